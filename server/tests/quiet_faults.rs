//! The quiet faults of a real table, against the real server on a real port: a peer that
//! vanishes without closing, a socket that dies right after the server wrote a turn's
//! last frames, cuts at random while turns run, a client that asks for its next turn the
//! moment it hears the last one end.

mod support;

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use support::proxy::FaultProxy;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_frozen_peer_is_let_go_within_the_idle_timeout() {
    // Idle timeout by default: 2 × heartbeat + 5 s = 6 s here.
    let server = start(&["--heartbeat-ms", "500"]).await;
    let proxy = FaultProxy::start(server.addr()).await;
    let mut ws = open_via(&proxy.ws_url(), &server).await.expect("upgrade");
    send(&mut ws, &connect_frame("gb-frozen", TOKEN)).await;
    assert_eq!(next_frame(&mut ws).await["type"], "connected");
    assert_eq!(active_connections(&server).await, 1);

    proxy.freeze();
    let let_go = eventually(Duration::from_secs(12), || async {
        active_connections(&server).await == 0
    })
    .await;
    assert!(
        let_go,
        "a connection that went silent is still counted active"
    );
    drop(ws);
}

#[tokio::test]
async fn a_takeover_closes_the_frozen_connection_it_replaces() {
    let server = start(&["--heartbeat-ms", "500"]).await;
    let proxy = FaultProxy::start(server.addr()).await;
    let mut old = open_via(&proxy.ws_url(), &server).await.expect("upgrade");
    send(&mut old, &connect_frame("gb-sleeper", TOKEN)).await;
    assert_eq!(next_frame(&mut old).await["type"], "connected");
    proxy.freeze();

    // The laptop wakes on another network and connects afresh, well within the idle
    // timeout: the old, silent connection must not stay open beside the new one.
    let _new = connected(&server, "gb-sleeper").await;
    let one = eventually(Duration::from_secs(2), || async {
        active_connections(&server).await == 1
    })
    .await;
    assert!(
        one,
        "two active connections for one client: {}",
        active_connections(&server).await
    );
    drop(old);
}

/// Reads what is already queued on a socket: every text frame, until it is quiet for
/// `quiet`.
async fn drain(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, ws.next()).await {
        if let Message::Text(text) = message {
            frames.push(serde_json::from_str(&text).expect("JSON"));
        }
    }
    frames
}

#[tokio::test]
async fn turn_output_written_into_a_dying_socket_is_replayed_to_a_resuming_client() {
    let server = start(&[]).await;
    let mut ws = open(&server, None).await.expect("upgrade");
    send(&mut ws, &resume_connect_frame("gb-resume", None, 0)).await;
    let hello = next_frame(&mut ws).await;
    let instance = hello["data"]["instance"]
        .as_str()
        .expect("instance")
        .to_owned();
    assert_eq!(
        hello["data"]["resume"],
        json!({"replayed": 0, "missed": 0}),
        "{hello}"
    );

    send(&mut ws, &chat_request("turn-1", CALM)).await;
    // The server writes the whole turn into the socket; the client never reads it, and
    // the socket dies with the frames in it.
    let written = eventually(Duration::from_secs(5), || async {
        metrics(&server).await["websocket"]["ai_processing"]["completed_requests"] == 1
    })
    .await;
    assert!(written, "the turn did not complete");
    drop(ws);

    let mut ws = open(&server, None).await.expect("upgrade");
    send(
        &mut ws,
        &resume_connect_frame("gb-resume", Some(&instance), 0),
    )
    .await;
    let hello = next_frame(&mut ws).await;
    assert_eq!(hello["type"], "connected");
    let replayed = hello["data"]["resume"]["replayed"].as_u64();
    let frames = drain(&mut ws, Duration::from_millis(300)).await;
    let types: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(
        types,
        vec!["ai_turn_started", "chat_response", "ai_turn_complete"],
        "{frames:?}"
    );
    assert_eq!(replayed, Some(3));
    let seqs: Vec<u64> = frames.iter().filter_map(|f| f["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // Acknowledged, they are not replayed a third time.
    send(&mut ws, &json!({"type": "ack", "data": {"seq": seqs[2]}})).await;
    send(&mut ws, &json!({"type": "ping", "request_id": "p"})).await;
    assert_eq!(until(&mut ws, "pong").await.1, Vec::<Value>::new());
    drop(ws);
    let mut ws = open(&server, None).await.expect("upgrade");
    send(
        &mut ws,
        &resume_connect_frame("gb-resume", Some(&instance), 0),
    )
    .await;
    assert_eq!(
        next_frame(&mut ws).await["data"]["resume"],
        json!({"replayed": 0, "missed": 0})
    );
}

/// One client following the protocol's resumable delivery across cuts: it processes a
/// session frame only if its seq is above the last it processed, acknowledges, answers
/// every roll request, and asks for a turn again after a reconnect until it hears the
/// turn start.
#[derive(Default)]
struct Table {
    instance: Option<String>,
    last_seq: u64,
    narrations: HashMap<String, usize>,
    completions: HashMap<String, usize>,
    busy_refusals: usize,
    processed_seqs: HashSet<u64>,
    started: HashSet<String>,
}

impl Table {
    /// Processes one frame; returns the frames to send back.
    fn process(&mut self, frame: &Value) -> Vec<Value> {
        let mut replies = Vec::new();
        if frame["type"] == "execute_roll" {
            replies.push(answer(frame, 15.0));
        }
        let Some(seq) = frame["seq"].as_u64() else {
            return replies;
        };
        if seq > self.last_seq {
            assert!(self.processed_seqs.insert(seq), "seq {seq} processed twice");
            self.last_seq = seq;
            let turn = frame["request_id"].as_str().unwrap_or_default().to_owned();
            match frame["type"].as_str() {
                Some("ai_turn_started") => {
                    self.started.insert(turn);
                }
                Some("chat_response") => *self.narrations.entry(turn).or_default() += 1,
                Some("ai_turn_complete") => *self.completions.entry(turn).or_default() += 1,
                Some("error") => self.busy_refusals += 1,
                _ => {}
            }
        }
        replies.push(json!({"type": "ack", "data": {"seq": seq}}));
        replies
    }
}

#[tokio::test]
async fn random_cuts_while_turns_run_lose_no_turn_end_and_show_no_narration_twice() {
    const TURNS: usize = 60;
    let seed: u64 = std::env::var("GOLD_BOX_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(gold_box_server::now_ms);
    println!("cut schedule seed: {seed} (GOLD_BOX_CUT_SEED={seed} repeats it)");
    let server = start(&[]).await;
    let proxy = std::sync::Arc::new(FaultProxy::start(server.addr()).await);
    let cutter = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let mut state = seed | 1;
            loop {
                // xorshift: a cut every 3 to 30 ms, often in the middle of a turn.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                tokio::time::sleep(Duration::from_millis(3 + state % 28)).await;
                proxy.cut();
            }
        })
    };

    // Besides the proxy's cuts, the client drops its own socket right after one frame in
    // four (seeded): the frames the server has already written behind that one die with
    // the socket. This part does not depend on timing, so every run cuts many turns.
    let mut drops = seed.rotate_left(17) | 1;
    let mut drop_now = move || {
        drops ^= drops << 13;
        drops ^= drops >> 7;
        drops ^= drops << 17;
        drops.is_multiple_of(4)
    };
    let mut table = Table::default();
    let mut cuts_seen = 0;
    let mut interrupted_turns = 0;
    for turn in 0..TURNS {
        let cuts_before = cuts_seen;
        let turn_id = format!("turn-{turn}");
        let text = if turn % 2 == 0 { ATTACK } else { CALM };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        'reconnect: while !table.completions.contains_key(&turn_id) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "turn {turn_id} never ended (seed {seed})"
            );
            let Ok(Ok(mut ws)) =
                tokio::time::timeout(Duration::from_secs(2), open_via(&proxy.ws_url(), &server))
                    .await
            else {
                continue;
            };
            let hello = resume_connect_frame("gb-table", table.instance.as_deref(), table.last_seq);
            if futures_util::SinkExt::send(&mut ws, Message::Text(hello.to_string().into()))
                .await
                .is_err()
            {
                cuts_seen += 1;
                continue;
            }
            let mut asked = false;
            loop {
                let message = tokio::time::timeout(Duration::from_secs(2), ws.next()).await;
                let frame: Value = match message {
                    Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str(&text).expect("JSON"),
                    Ok(Some(Ok(_))) => continue,
                    Ok(Some(Err(_)) | None) | Err(_) => {
                        cuts_seen += 1;
                        continue 'reconnect;
                    }
                };
                let mut replies = Vec::new();
                if frame["type"] == "connected" {
                    let instance = frame["data"]["instance"].as_str().map(str::to_owned);
                    assert_eq!(frame["data"]["resume"]["missed"], 0, "{frame}");
                    if table.instance.is_some() && table.instance != instance {
                        table.last_seq = 0;
                    }
                    table.instance = instance;
                } else {
                    replies = table.process(&frame);
                }
                if table.completions.contains_key(&turn_id) {
                    break 'reconnect;
                }
                // Once connected (and after anything replayed), ask for the turn until
                // it is known to have started; the server takes a repeat of the same
                // request as the same turn.
                if !asked && !table.started.contains(&turn_id) && frame["type"] == "connected" {
                    replies.push(chat_request(&turn_id, text));
                    asked = true;
                }
                for reply in replies {
                    if futures_util::SinkExt::send(&mut ws, Message::Text(reply.to_string().into()))
                        .await
                        .is_err()
                    {
                        cuts_seen += 1;
                        continue 'reconnect;
                    }
                }
                if frame["type"] != "connected" && drop_now() {
                    drop(ws);
                    cuts_seen += 1;
                    continue 'reconnect;
                }
            }
        }
        if cuts_seen > cuts_before {
            interrupted_turns += 1;
        }
    }
    cutter.abort();
    println!(
        "{TURNS} turns, {interrupted_turns} of them cut at least once, {cuts_seen} cuts seen by the client"
    );
    for turn in 0..TURNS {
        let turn_id = format!("turn-{turn}");
        assert_eq!(
            table.completions.get(&turn_id),
            Some(&1),
            "{turn_id} (seed {seed})"
        );
        assert!(
            table.narrations.get(&turn_id).copied().unwrap_or(0) >= 1,
            "{turn_id} has no narration (seed {seed})"
        );
    }
    assert_eq!(
        table.busy_refusals, 0,
        "a repeated chat_request was refused as busy"
    );
    assert!(
        interrupted_turns >= TURNS / 4,
        "the schedule cut too few turns to prove anything: {interrupted_turns}"
    );
}

#[tokio::test]
async fn a_client_that_asks_again_on_hearing_the_end_is_never_refused_as_busy() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-eager").await;
    for turn in 0..100 {
        send(&mut ws, &chat_request(&format!("t{turn}"), CALM)).await;
        let (complete, before) = until(&mut ws, "ai_turn_complete").await;
        assert_eq!(complete["data"]["status"], "completed", "{before:?}");
        assert!(
            before.iter().all(|f| f["type"] != "error"),
            "turn {turn}: {before:?}"
        );
    }
}

#[tokio::test]
async fn a_roll_result_of_the_wrong_json_type_gets_roll_ack_invalid_naming_the_field() {
    let server = start(&[]).await;
    let mut ws = connected(&server, "gb-types").await;
    send(&mut ws, &chat_request("t1", ATTACK)).await;
    let (roll, _) = until(&mut ws, "execute_roll").await;
    let mut wrong = answer(&roll, 17.0);
    wrong["data"]["results"][0]["total"] = json!("17");
    send(&mut ws, &wrong).await;
    let (ack, before) = until(&mut ws, "roll_ack").await;
    assert!(before.iter().all(|f| f["type"] != "error"), "{before:?}");
    assert_eq!(ack["request_id"], roll["request_id"]);
    assert_eq!(ack["data"]["status"], "invalid");
    let error = ack["data"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("results[0].total"), "{error}");
}

#[tokio::test]
async fn every_refused_roll_result_is_counted_one_for_one_with_what_clients_heard() {
    let server = start(&[]).await;
    let mut owner = connected(&server, "gb-owner").await;
    let mut other = connected(&server, "gb-other").await;
    send(&mut owner, &chat_request("t1", ATTACK)).await;
    let (roll, _) = until(&mut owner, "execute_roll").await;
    let request_id = roll["request_id"].as_str().expect("id").to_owned();

    // Over the socket: another client's answer, then a wrongly typed one.
    send(&mut other, &answer(&roll, 12.0)).await;
    assert_eq!(
        until(&mut other, "roll_ack").await.0["data"]["status"],
        "forbidden"
    );
    let mut wrong = answer(&roll, 12.0);
    wrong["data"]["results"][0]["total"] = json!("12");
    send(&mut owner, &wrong).await;
    assert_eq!(
        until(&mut owner, "roll_ack").await.0["data"]["status"],
        "invalid"
    );
    // Over HTTP: another client's answer, then a wrongly typed one.
    let results = answer(&roll, 12.0)["data"]["results"].clone();
    let (status, _) = post_roll_result(
        &server,
        TOKEN,
        &json!({"request_id": request_id, "client_id": "gb-other", "results": results}),
    )
    .await;
    assert_eq!(status, 403);
    let mut typed = results.clone();
    typed[0]["total"] = json!("12");
    let (status, body) = post_roll_result(
        &server,
        TOKEN,
        &json!({"request_id": request_id, "client_id": "gb-owner", "results": typed}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("results[0].total"), "{body}");

    let rolls = &metrics(&server).await["websocket"]["roll_results"];
    assert_eq!(rolls["forbidden"], 2, "{rolls}");
    assert_eq!(rolls["invalid"], 2, "{rolls}");
    assert_eq!(
        rolls["by_transport"],
        json!({"ws": 2, "http": 2}),
        "{rolls}"
    );
}

#[tokio::test]
async fn the_roll_result_token_is_checked_before_the_body_is_read() {
    let server = start(&[]).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/roll-result", server.url()))
        .bearer_auth("wrong-token")
        .header("content-type", "application/json")
        .body("this is not JSON, and the server must not care")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn records_of_clients_that_have_gone_are_evicted_after_their_ttl() {
    const CLIENTS: usize = 2_000;
    const AT_ONCE: usize = 50;
    let server = std::sync::Arc::new(start(&["--client-ttl-ms", "3000"]).await);
    let started = tokio::time::Instant::now();
    let mut batches = Vec::new();
    for batch in 0..AT_ONCE {
        let server = server.clone();
        batches.push(tokio::spawn(async move {
            for n in (batch..CLIENTS).step_by(AT_ONCE) {
                let mut ws = connected(&server, &format!("gb-passer-{n}")).await;
                for _ in 0..3 {
                    send(
                        &mut ws,
                        &json!({"type": "chat_message", "data": {"speaker": "A", "content": "x".repeat(200)}}),
                    )
                    .await;
                }
                send(&mut ws, &json!({"type": "ping", "request_id": "p"})).await;
                until(&mut ws, "pong").await;
            }
        }));
    }
    for batch in batches {
        batch.await.expect("clients ran");
    }
    let took = started.elapsed();
    let held = server.client_record_count();
    println!("{CLIENTS} clients came and went in {took:?}; {held} records held just after");
    assert!(held > 0, "nothing was held at all");
    assert!(
        eventually(Duration::from_secs(5), || async {
            active_connections(&server).await == 0
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    server.sweep_now();
    assert_eq!(server.client_record_count(), 0);
}

#[tokio::test]
async fn a_stranger_is_refused_before_the_server_waits_for_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(&[]).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    // Announces a 60,000-byte body and sends none of it: a server that reads the body
    // before the token waits here until the client gives up.
    let head = format!(
        "POST /api/roll-result HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer wrong\r\n\
         Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
        server.addr().port()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut answer))
        .await
        .expect("the server answered without waiting for the body")
        .expect("read");
    let text = String::from_utf8_lossy(&answer[..read]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
}

#[tokio::test]
async fn a_quiet_but_live_client_is_kept_though_its_own_pings_are_late() {
    // A browser tab hidden for a while gets its timers throttled to about one wake-up a
    // minute: its `ping`s come late. The browser still answers WebSocket pings by itself,
    // so a live client must not be taken for dead. Idle timeout here: 2 x 300 + 5000 ms.
    let server = start(&["--heartbeat-ms", "300"]).await;
    let mut ws = connected(&server, "gb-hidden-tab").await;
    let quiet_for = Duration::from_secs(8);
    let until_then = tokio::time::Instant::now() + quiet_for;
    // Read (so that WebSocket pings are answered, as a browser does) but send nothing.
    while let Ok(message) = tokio::time::timeout_at(until_then, ws.next()).await {
        match message {
            Some(Ok(_)) => continue,
            other => panic!("the server let a live client go: {other:?}"),
        }
    }
    assert_eq!(active_connections(&server).await, 1);
    send(&mut ws, &json!({"type": "ping", "request_id": "p"})).await;
    assert_eq!(until(&mut ws, "pong").await.0["request_id"], "p");
}
