//! Fault injection for the effectively-once delivery of roll results (docs/PROTOCOL.md,
//! "Roll results: effectively-once delivery"): the guarantee a GM feels is that a roll is
//! never lost and never applied twice, even when the socket drops mid-roll or the server
//! restarts. These tests cut the socket at random points of 1,000 rolls and restart the
//! server with requests outstanding, and count what the server did with every result.
//!
//! The client here is a native stand-in for the browser core's outbox: it remembers each
//! outcome by `request_id`, never rolls again when the same `execute_roll` comes back,
//! delivers an outcome until some answer (any `roll_ack` status, any HTTP answer) drops it,
//! and re-delivers after every reconnect. Cuts and recoveries are drawn from a seeded
//! RNG; every run prints its seed, and `GOLD_BOX_FAULT_SEED=<seed>` replays the same
//! sequence of choices (the interleaving of frames on the wire may still differ).

mod support;

use futures_util::{SinkExt, StreamExt};
use gold_box_protocol::{RollOutcome, RollRequest};
use gold_box_server::ServerHandle;
use gold_box_server::rolls::RollFailure;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::*;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// How many roll requests the cut test makes.
const REQUESTS: usize = 1_000;
/// How many of them are outstanding at once (a cut catches all of them mid-flight).
const IN_FLIGHT: usize = 8;
/// Each request's deadline: far above what a healthy loopback round trip needs, so a
/// timeout means a lost result, not a slow machine.
const ROLL_DEADLINE: Duration = Duration::from_secs(20);
/// How long the client waits for a `roll_ack` before sending the result again.
const ACK_WAIT: Duration = Duration::from_millis(500);
/// The bound on each test as a whole.
const TEST_LIMIT: Duration = Duration::from_secs(50);

// --- a seeded RNG (xorshift64*), so that a failing run can be replayed ---------------

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 spreads small seeds; xorshift needs a non-zero state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The seed of this run: `GOLD_BOX_FAULT_SEED` when set, else the clock.
fn seed() -> u64 {
    std::env::var("GOLD_BOX_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

// --- the outbox client -----------------------------------------------------------------

/// Where the client cut its socket during a roll.
#[derive(Debug, Clone, Copy)]
enum CutPoint {
    /// Rolled and stored, result not sent.
    BeforeSend,
    /// Result sent, its `roll_ack` not read.
    AfterSendBeforeAck,
    /// Result sent and acknowledged.
    AfterAck,
}

/// What the client saw and did, counted.
#[derive(Debug, Default)]
struct Tally {
    execute_rolls: u64,
    /// Outcomes rolled (one per new request id, plus any re-roll the server caused).
    rolls: u64,
    /// `execute_roll` again for an id still in the outbox: its stored outcome is re-sent.
    repeated_execute_rolls: u64,
    /// `execute_roll` again for an id already answered: the server asked for a roll it
    /// had already taken (0 unless the server is wrong).
    execute_rolls_after_ack: u64,
    cuts_before_send: u64,
    cuts_after_send_before_ack: u64,
    cuts_after_ack: u64,
    abrupt_cuts: u64,
    graceful_cuts: u64,
    recoveries_by_reconnect: u64,
    recoveries_by_http_then_reconnect: u64,
    failed_connect_attempts: u64,
    ws_deliveries: u64,
    ws_redeliveries_after_ack_wait: u64,
    ws_acks: BTreeMap<String, u64>,
    /// Acks for an id no longer in the outbox (an earlier answer dropped it already).
    acks_without_entry: u64,
    http_deliveries: u64,
    /// `"<code> <status or error code>"` → count.
    http_answers: BTreeMap<String, u64>,
    http_transport_errors: u64,
    closed_by_server: u64,
    other_frames: u64,
}

#[derive(Debug)]
struct Entry {
    results: Value,
    /// When it was last sent on the current socket (None: not yet on this one).
    sent_at: Option<Instant>,
}

/// What the next read brought.
#[derive(Debug)]
enum Event {
    Frame(Value),
    Closed,
    Idle,
}

/// Whether an `execute_roll` was new.
#[derive(Debug, PartialEq)]
enum Asked {
    First,
    AgainWhileInOutbox,
    AgainAfterAck,
}

#[derive(Debug)]
struct OutboxClient {
    port: u16,
    client_id: String,
    http: reqwest::Client,
    ws: Option<Ws>,
    /// The first outcome rolled for each `request_id` (the test's memory, kept after the
    /// outbox entry is gone).
    rolled: HashMap<String, Value>,
    /// Outcomes not yet answered, by `request_id`.
    outbox: BTreeMap<String, Entry>,
    tally: Tally,
    rng: Rng,
    /// Transcript of HTTP answers by request id (for the restart test's report).
    answers: BTreeMap<String, Vec<String>>,
}

impl OutboxClient {
    fn new(port: u16, client_id: &str, rng: Rng) -> Self {
        OutboxClient {
            port,
            client_id: client_id.to_owned(),
            http: reqwest::Client::new(),
            ws: None,
            rolled: HashMap::new(),
            outbox: BTreeMap::new(),
            tally: Tally::default(),
            rng,
            answers: BTreeMap::new(),
        }
    }

    /// One attempt to open `/ws` and complete the handshake.
    async fn connect_once(&mut self) -> Result<(), String> {
        let url = format!("ws://127.0.0.1:{}/ws", self.port);
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| e.to_string())?;
        let hello = connect_frame(&self.client_id, TOKEN).to_string();
        ws.send(Message::Text(hello.into()))
            .await
            .map_err(|e| e.to_string())?;
        let reply = tokio::time::timeout(FRAME_WAIT, ws.next())
            .await
            .map_err(|_| "no answer to connect".to_owned())?;
        match reply {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                if frame["type"] != "connected" {
                    return Err(format!("connect answered with {frame}"));
                }
            }
            other => return Err(format!("connect answered with {other:?}")),
        }
        for entry in self.outbox.values_mut() {
            entry.sent_at = None;
        }
        self.ws = Some(ws);
        Ok(())
    }

    /// Reconnects (retrying every 20 ms), then delivers the whole outbox over the socket.
    async fn reconnect(&mut self) {
        while let Err(error) = self.connect_once().await {
            self.tally.failed_connect_attempts += 1;
            note_connect_failure(&error);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let ids: Vec<String> = self.outbox.keys().cloned().collect();
        for id in ids {
            self.send_result(&id).await;
        }
    }

    /// Records an `execute_roll`; rolls only the first time its id is seen.
    fn on_execute_roll(&mut self, frame: &Value) -> (String, Asked) {
        self.tally.execute_rolls += 1;
        let id = frame["request_id"]
            .as_str()
            .expect("execute_roll has a request_id")
            .to_owned();
        if self.outbox.contains_key(&id) {
            self.tally.repeated_execute_rolls += 1;
            return (id, Asked::AgainWhileInOutbox);
        }
        let asked = if self.rolled.contains_key(&id) {
            // Asked again for an id whose entry an answer already dropped: the browser
            // core no longer knows it and rolls anew, as done here. The count shows the
            // server asking for a roll it had already taken.
            self.tally.execute_rolls_after_ack += 1;
            Asked::AgainAfterAck
        } else {
            Asked::First
        };
        self.tally.rolls += 1;
        let results: Vec<Value> = frame["data"]["rolls"]
            .as_array()
            .expect("execute_roll has rolls")
            .iter()
            .map(|roll| {
                let die = 1 + self.rng.below(20) as i64;
                // A total no earlier roll had, so a replaced outcome would show.
                let total = (self.tally.rolls * 100) as f64 + die as f64;
                let mut outcome = json!({"formula": roll["formula"], "total": total,
                    "dice": [{"faces": 20, "results": [{"result": die, "active": true}]}]});
                if let Some(flavor) = roll.get("flavor") {
                    outcome["flavor"] = flavor.clone();
                }
                outcome
            })
            .collect();
        let results = Value::Array(results);
        self.rolled
            .entry(id.clone())
            .or_insert_with(|| results.clone());
        self.outbox.insert(
            id.clone(),
            Entry {
                results,
                sent_at: None,
            },
        );
        (id, asked)
    }

    /// Sends an outbox entry's result over the socket (nothing when there is none).
    async fn send_result(&mut self, id: &str) {
        let (Some(ws), Some(entry)) = (self.ws.as_mut(), self.outbox.get_mut(id)) else {
            return;
        };
        let frame = json!({"type": "roll_result", "request_id": id,
                           "data": {"results": entry.results}});
        entry.sent_at = Some(Instant::now());
        self.tally.ws_deliveries += 1;
        if ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            self.ws = None;
        }
    }

    /// A `roll_ack` drops its entry, whatever its status. Returns the acknowledged id.
    fn on_roll_ack(&mut self, frame: &Value) -> String {
        let id = frame["request_id"].as_str().unwrap_or_default().to_owned();
        let status = frame["data"]["status"].as_str().unwrap_or("?").to_owned();
        *self.tally.ws_acks.entry(status.clone()).or_default() += 1;
        self.answers
            .entry(id.clone())
            .or_default()
            .push(format!("ws roll_ack {status}"));
        if self.outbox.remove(&id).is_none() {
            self.tally.acks_without_entry += 1;
        }
        id
    }

    /// Sends again every entry that waited longer than [`ACK_WAIT`] for its ack.
    async fn resend_unacknowledged(&mut self) {
        let now = Instant::now();
        let stale: Vec<String> = self
            .outbox
            .iter()
            .filter(|(_, e)| e.sent_at.is_none_or(|t| now - t >= ACK_WAIT))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.tally.ws_redeliveries_after_ack_wait += 1;
            self.send_result(&id).await;
        }
    }

    /// Posts every outbox entry to `POST /api/roll-result`; any HTTP answer drops it.
    async fn deliver_over_http(&mut self) {
        let ids: Vec<String> = self.outbox.keys().cloned().collect();
        for id in ids {
            let Some(entry) = self.outbox.get(&id) else {
                continue;
            };
            let body =
                json!({"request_id": id, "client_id": self.client_id, "results": entry.results});
            self.tally.http_deliveries += 1;
            let sent = self
                .http
                .post(format!("http://127.0.0.1:{}/api/roll-result", self.port))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let code = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let said = body["status"]
                        .as_str()
                        .or(body["error"]["code"].as_str())
                        .unwrap_or("?");
                    let answer = format!("{code} {said}");
                    *self.tally.http_answers.entry(answer.clone()).or_default() += 1;
                    self.answers
                        .entry(id.clone())
                        .or_default()
                        .push(format!("http {answer}"));
                    self.outbox.remove(&id);
                }
                Err(error) => {
                    self.tally.http_transport_errors += 1;
                    self.answers
                        .entry(id.clone())
                        .or_default()
                        .push(format!("http failed to connect ({error}), kept"));
                }
            }
        }
    }

    /// Cuts the socket: abruptly (dropped, unread data makes it a reset) or with a
    /// close frame, at random.
    async fn cut(&mut self, point: CutPoint) {
        match point {
            CutPoint::BeforeSend => self.tally.cuts_before_send += 1,
            CutPoint::AfterSendBeforeAck => self.tally.cuts_after_send_before_ack += 1,
            CutPoint::AfterAck => self.tally.cuts_after_ack += 1,
        }
        if let Some(mut ws) = self.ws.take() {
            if self.rng.below(2) == 0 {
                self.tally.abrupt_cuts += 1;
                drop(ws);
            } else {
                self.tally.graceful_cuts += 1;
                let _ = ws.close(None).await;
            }
        }
    }

    /// The next frame, a close, or nothing within `wait`.
    async fn next_event(&mut self, wait: Duration) -> Event {
        let Some(ws) = self.ws.as_mut() else {
            return Event::Closed;
        };
        loop {
            match tokio::time::timeout(wait, ws.next()).await {
                Err(_) => return Event::Idle,
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Event::Frame(serde_json::from_str(&text).expect("server sends JSON"));
                }
                Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                    self.ws = None;
                    return Event::Closed;
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// Connection failures are expected while a server restarts; kept quiet unless asked.
fn note_connect_failure(error: &str) {
    if std::env::var_os("GOLD_BOX_FAULT_VERBOSE").is_some() {
        eprintln!("connect failed: {error}");
    }
}

/// The fault loop: answers every `execute_roll`, and for about 40 % of the rolls cuts
/// the socket at a random point, then recovers by reconnecting or by HTTP then reconnecting.
/// Ends when `done` is set and the outbox is empty.
async fn run_with_cuts(mut client: OutboxClient, done: Arc<AtomicBool>) -> OutboxClient {
    let mut cut_after_ack_of: Option<String> = None;
    loop {
        let finished = done.load(Ordering::SeqCst);
        if finished && client.outbox.is_empty() {
            if let Some(mut ws) = client.ws.take() {
                let _ = ws.close(None).await;
            }
            return client;
        }
        if client.ws.is_none() {
            cut_after_ack_of = None;
            if client.rng.below(2) == 0 {
                client.tally.recoveries_by_http_then_reconnect += 1;
                client.deliver_over_http().await;
            } else {
                client.tally.recoveries_by_reconnect += 1;
            }
            client.reconnect().await;
            continue;
        }
        match client.next_event(Duration::from_millis(50)).await {
            Event::Idle => client.resend_unacknowledged().await,
            Event::Closed => client.tally.closed_by_server += 1,
            Event::Frame(frame) => match frame["type"].as_str() {
                Some("execute_roll") => {
                    let (id, asked) = client.on_execute_roll(&frame);
                    if asked != Asked::First {
                        client.send_result(&id).await;
                        continue;
                    }
                    // While a cut waits for an ack, other rolls are answered cleanly, so
                    // that the ack it waits for is not lost to another cut first.
                    let fate = client.rng.below(100);
                    match fate {
                        _ if cut_after_ack_of.is_some() => client.send_result(&id).await,
                        0..=59 => client.send_result(&id).await,
                        60..=72 => client.cut(CutPoint::BeforeSend).await,
                        73..=85 => {
                            client.send_result(&id).await;
                            client.cut(CutPoint::AfterSendBeforeAck).await;
                        }
                        _ => {
                            client.send_result(&id).await;
                            cut_after_ack_of = Some(id);
                        }
                    }
                }
                Some("roll_ack") => {
                    let id = client.on_roll_ack(&frame);
                    if cut_after_ack_of.as_ref() == Some(&id) {
                        cut_after_ack_of = None;
                        client.cut(CutPoint::AfterAck).await;
                    }
                }
                _ => client.tally.other_frames += 1,
            },
        }
    }
}

/// Stops a server once no request task holds it any more.
async fn shut_down_after(server: Arc<ServerHandle>) -> std::io::Result<()> {
    let Ok(server) = Arc::try_unwrap(server) else {
        panic!("a request task still holds the server");
    };
    server.shutdown().await
}

fn counter(metrics: &Value, name: &str) -> u64 {
    metrics["websocket"]["roll_results"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("roll_results.{name} in {metrics}"))
}

fn rolls_for(n: u64, tag: &str) -> Vec<RollRequest> {
    (0..n)
        .map(|k| RollRequest {
            formula: "1d20".into(),
            flavor: Some(format!("{tag}/{k}")),
        })
        .collect()
}

fn outcomes(results: &Value) -> Vec<RollOutcome> {
    serde_json::from_value(results.clone()).expect("the client's results are RollOutcomes")
}

/// 1,000 rolls, the socket cut at random points of about 40 % of them, each cut followed
/// by a reconnect or by the HTTP fallback then a reconnect: every waiting request gets
/// the outcome first rolled for it, and the server accepts exactly 1,000 results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rolls_with_random_socket_cuts_are_each_applied_exactly_once() {
    let seed = seed();
    println!("fault injection seed = {seed} (replay with GOLD_BOX_FAULT_SEED={seed})");
    let started = std::time::Instant::now();
    let server = Arc::new(start(&[]).await);
    let port = server.addr().port();
    let client_id = "gb-u1-faults";
    let mut driver_rng = Rng::new(seed);
    let mut client = OutboxClient::new(port, client_id, Rng::new(seed ^ 0x5EED));
    client.reconnect().await;
    let done = Arc::new(AtomicBool::new(false));
    let client_task = tokio::spawn(run_with_cuts(client, done.clone()));

    // Issue REQUESTS requests, IN_FLIGHT at a time, each of 1 to 3 rolls tagged `req-i`.
    let issuing = async {
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut waiting = JoinSet::new();
        for i in 0..REQUESTS {
            let permit = permits.clone().acquire_owned().await.expect("semaphore");
            let server = server.clone();
            let rolls = rolls_for(1 + driver_rng.below(3), &format!("req-{i}"));
            waiting.spawn(async move {
                let outcome = server.request_rolls(client_id, rolls, ROLL_DEADLINE).await;
                drop(permit);
                (i, outcome)
            });
        }
        let mut outcomes = BTreeMap::new();
        while let Some(joined) = waiting.join_next().await {
            let (i, outcome) = joined.expect("request task");
            outcomes.insert(i, outcome);
        }
        outcomes
    };
    let results = tokio::time::timeout(TEST_LIMIT, issuing)
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: the {REQUESTS} requests did not all end"));
    done.store(true, Ordering::SeqCst);
    let client = tokio::time::timeout(Duration::from_secs(10), client_task)
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: the client's outbox did not empty"))
        .expect("client task");
    let metrics = metrics(&server).await;
    let (pending, tombstones) = server.roll_registry_sizes();
    let t = &client.tally;
    let by_transport = &metrics["websocket"]["roll_results"]["by_transport"];
    let summary = format!(
        "seed {seed}: {REQUESTS} requests in {:.2?}\n  \
         server: accepted {}, duplicate {}, expired {}, unknown {}, forbidden {}, invalid {}, \
         by transport {by_transport}; registry pending {pending}, tombstones {tombstones}\n  \
         cuts: before send {}, after send before ack {}, after ack {} ({} abrupt, {} with a close frame)\n  \
         recoveries: reconnect {}, HTTP then reconnect {}; failed connect attempts {}\n  \
         client: execute_roll {} (rolled {}, repeated while in outbox {}, after an answer {}), \
         ws deliveries {} (re-sent after the ack wait {}), ws acks {:?} ({} for a dropped entry), \
         HTTP deliveries {} answered {:?} ({} transport errors), closed by server {}, other frames {}",
        started.elapsed(),
        counter(&metrics, "accepted"),
        counter(&metrics, "duplicate"),
        counter(&metrics, "expired"),
        counter(&metrics, "unknown"),
        counter(&metrics, "forbidden"),
        counter(&metrics, "invalid"),
        t.cuts_before_send,
        t.cuts_after_send_before_ack,
        t.cuts_after_ack,
        t.abrupt_cuts,
        t.graceful_cuts,
        t.recoveries_by_reconnect,
        t.recoveries_by_http_then_reconnect,
        t.failed_connect_attempts,
        t.execute_rolls,
        t.rolls,
        t.repeated_execute_rolls,
        t.execute_rolls_after_ack,
        t.ws_deliveries,
        t.ws_redeliveries_after_ack_wait,
        t.ws_acks,
        t.acks_without_entry,
        t.http_deliveries,
        t.http_answers,
        t.http_transport_errors,
        t.closed_by_server,
        t.other_frames,
    );
    println!("{summary}");

    // Lost none: every waiting request got a result, the one the client rolled first.
    let mut id_of_tag: HashMap<String, Vec<&String>> = HashMap::new();
    for (id, results) in &client.rolled {
        let tag = results[0]["flavor"].as_str().expect("flavor").to_owned();
        let tag = tag.split('/').next().unwrap_or_default().to_owned();
        id_of_tag.entry(tag).or_default().push(id);
    }
    let mut problems = String::new();
    for (i, outcome) in &results {
        let tag = format!("req-{i}");
        let ids = id_of_tag.get(&tag).cloned().unwrap_or_default();
        match (outcome, ids.as_slice()) {
            (Ok(applied), [id]) => {
                if *applied != outcomes(&client.rolled[*id]) {
                    let _ = writeln!(
                        problems,
                        "{tag} ({id}): applied {applied:?}, first rolled {}",
                        client.rolled[*id]
                    );
                }
            }
            (Ok(_), ids) => {
                let _ = writeln!(problems, "{tag}: rolled under {} request ids", ids.len());
            }
            (Err(failure), _) => {
                let _ = writeln!(problems, "{tag} ({ids:?}): lost: {failure}");
            }
        }
    }
    assert!(problems.is_empty(), "{summary}\n{problems}");
    assert_eq!(results.len(), REQUESTS, "{summary}");
    assert_eq!(
        client.rolled.len(),
        REQUESTS,
        "one roll per request: {summary}"
    );

    // Applied none twice, and nothing answered other than accepted or duplicate.
    assert_eq!(counter(&metrics, "accepted"), REQUESTS as u64, "{summary}");
    for status in ["expired", "unknown", "forbidden", "invalid"] {
        assert_eq!(counter(&metrics, status), 0, "{status}: {summary}");
    }
    assert_eq!(t.execute_rolls_after_ack, 0, "{summary}");
    assert!(client.outbox.is_empty(), "{summary}");
    assert_eq!(pending, 0, "no request left pending: {summary}");
    // Every delivery the client made and got an answer to was counted by the server.
    let answered = t.ws_acks.values().sum::<u64>() + t.http_answers.values().sum::<u64>();
    let received =
        by_transport["ws"].as_u64().unwrap_or(0) + by_transport["http"].as_u64().unwrap_or(0);
    assert!(received >= answered, "{summary}");
    assert_eq!(
        counter(&metrics, "accepted") + counter(&metrics, "duplicate"),
        received,
        "{summary}"
    );
    // The faults really happened.
    assert!(
        t.cuts_before_send > 0 && t.cuts_after_send_before_ack > 0 && t.cuts_after_ack > 0,
        "{summary}"
    );

    shut_down_after(server).await.expect("clean shutdown");
}

// --- restart -------------------------------------------------------------------------

/// One request of the restart test, and what became of it.
#[derive(Debug)]
struct Tracked {
    name: &'static str,
    issued: Instant,
    task: tokio::task::JoinHandle<Result<Vec<RollOutcome>, RollFailure>>,
}

fn issue(
    server: &Arc<ServerHandle>,
    client_id: &'static str,
    name: &'static str,
    timeout: Duration,
) -> Tracked {
    let server = server.clone();
    let rolls = rolls_for(1, name);
    Tracked {
        name,
        issued: Instant::now(),
        task: tokio::spawn(async move { server.request_rolls(client_id, rolls, timeout).await }),
    }
}

/// Reads frames until an `execute_roll` tagged `name` comes; rolls it (into the outbox).
async fn receive_and_roll(client: &mut OutboxClient, name: &str) -> String {
    loop {
        match client.next_event(FRAME_WAIT).await {
            Event::Frame(frame) if frame["type"] == "execute_roll" => {
                let tag = frame["data"]["rolls"][0]["flavor"].as_str().unwrap_or("");
                let (id, _) = client.on_execute_roll(&frame);
                if tag.starts_with(name) {
                    return id;
                }
            }
            Event::Frame(frame) if frame["type"] == "roll_ack" => {
                client.on_roll_ack(&frame);
            }
            other => panic!("waiting for the execute_roll of {name}, got {other:?}"),
        }
    }
}

/// Sends `id`'s result and reads until its `roll_ack`; returns the status.
async fn deliver_and_wait_ack(client: &mut OutboxClient, id: &str) -> String {
    client.send_result(id).await;
    loop {
        match client.next_event(FRAME_WAIT).await {
            Event::Frame(frame) if frame["type"] == "roll_ack" => {
                let acked = client.on_roll_ack(&frame);
                if acked == id {
                    return frame["data"]["status"].as_str().unwrap_or("?").to_owned();
                }
            }
            Event::Frame(frame) if frame["type"] == "execute_roll" => {
                client.on_execute_roll(&frame);
            }
            other => panic!("waiting for the roll_ack of {id}, got {other:?}"),
        }
    }
}

async fn settle(
    tracked: Tracked,
) -> (
    &'static str,
    Result<Vec<RollOutcome>, RollFailure>,
    Duration,
) {
    let outcome = tokio::time::timeout(Duration::from_secs(15), tracked.task)
        .await
        .unwrap_or_else(|_| panic!("{}: neither completed nor failed (vanished)", tracked.name))
        .expect("request task");
    (tracked.name, outcome, tracked.issued.elapsed())
}

/// Answers frames as the browser core does (a new `execute_roll` is rolled and sent, a
/// repeated one gets its stored outcome, any `roll_ack` drops its entry) until `done`
/// holds and the outbox is empty, or `limit` passes.
async fn serve_like_the_core(client: &mut OutboxClient, limit: Duration, done: impl Fn() -> bool) {
    let until = Instant::now() + limit;
    while Instant::now() < until && !(done() && client.outbox.is_empty()) {
        match client.next_event(Duration::from_millis(20)).await {
            Event::Frame(frame) if frame["type"] == "execute_roll" => {
                let (id, _) = client.on_execute_roll(&frame);
                client.send_result(&id).await;
            }
            Event::Frame(frame) if frame["type"] == "roll_ack" => {
                client.on_roll_ack(&frame);
            }
            Event::Closed => panic!("the server closed the socket"),
            _ => {}
        }
    }
}

/// The `flavor` tag of the first outcome: which request the outcome was rolled for.
fn rolled_for(outcomes: &[RollOutcome]) -> String {
    outcomes
        .first()
        .and_then(|o| o.flavor.as_deref())
        .and_then(|f| f.split('/').next())
        .unwrap_or("?")
        .to_owned()
}

/// Outstanding requests across a restart: each one completes or fails with a reason
/// (ShuttingDown for the stopped server's waiters, Timeout at its deadline), none hangs,
/// and the outcomes the client still holds get a clear answer from the restarted server
/// (`unknown`: it never issued them), so the client's outbox empties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_fails_or_completes_every_outstanding_request_and_empties_the_outbox() {
    const CLIENT: &str = "gb-u1-restart";
    let started = std::time::Instant::now();
    let long = Duration::from_secs(10);
    let short = Duration::from_millis(300);
    let mut report: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();

    // Server A: one roll completes; two are rolled but not sent when the socket drops;
    // one is issued while the client is away.
    let server_a = Arc::new(start(&[]).await);
    let port = server_a.addr().port();
    let mut client = OutboxClient::new(port, CLIENT, Rng::new(1));
    client.reconnect().await;

    let completed = issue(&server_a, CLIENT, "completed-before-restart", long);
    let id = receive_and_roll(&mut client, "completed-before-restart").await;
    let sent = outcomes(&client.outbox[&id].results);
    let status = deliver_and_wait_ack(&mut client, &id).await;
    let (name, outcome, took) = settle(completed).await;
    assert_eq!(status, "accepted", "{name}");
    assert_eq!(outcome, Ok(sent), "{name}");
    report.push(format!(
        "{name} ({id}): completed in {took:.2?}, ack {status}"
    ));

    let rolled_1 = issue(&server_a, CLIENT, "rolled-not-sent-1", long);
    let id_1 = receive_and_roll(&mut client, "rolled-not-sent-1").await;
    let rolled_2 = issue(&server_a, CLIENT, "rolled-not-sent-2", long);
    let id_2 = receive_and_roll(&mut client, "rolled-not-sent-2").await;
    client.cut(CutPoint::BeforeSend).await;
    assert!(
        eventually(Duration::from_secs(2), || async {
            metrics(&server_a).await["websocket"]["connections"]["active"] == 0
        })
        .await,
        "server A saw the socket go"
    );
    let away = issue(&server_a, CLIENT, "issued-while-away", long);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        server_a.roll_registry_sizes().0,
        3,
        "three requests outstanding"
    );

    // Stop A with the three outstanding: each waiter must end now, with a reason.
    let stop_at = Instant::now();
    let _ = server_a.stopper().send(true);
    for tracked in [rolled_1, rolled_2, away] {
        let name = tracked.name;
        let outcome = tokio::time::timeout(Duration::from_secs(5), tracked.task)
            .await
            .unwrap_or_else(|_| panic!("{name}: its waiter did not end when the server stopped"))
            .expect("request task");
        assert_eq!(outcome, Err(RollFailure::ShuttingDown), "{name}");
        report.push(format!(
            "{name}: failed with ShuttingDown {:.2?} after the stop",
            stop_at.elapsed()
        ));
    }
    // A request that reaches the stopping server after its waiters were failed.
    let late = issue(&server_a, CLIENT, "issued-after-the-stop", short);
    let (name, outcome, took) = settle(late).await;
    match &outcome {
        Err(RollFailure::ShuttingDown) => {
            report.push(format!("{name}: failed with ShuttingDown after {took:.2?}"));
        }
        Err(RollFailure::Timeout { waited_ms }) => {
            assert!(took >= short, "{name}: timed out before its deadline");
            report.push(format!(
                "{name}: failed with Timeout at its deadline ({waited_ms} ms, after {took:.2?})"
            ));
        }
        Ok(_) => panic!("{name}: completed on a stopped server"),
    }
    shut_down_after(server_a).await.expect("server A stops");

    // While no server listens, the HTTP fallback cannot connect: the outcomes are kept.
    client.deliver_over_http().await;
    assert_eq!(client.outbox.len(), 2, "nothing dropped without an answer");

    // Server B on the same port. One request waits for the client's return, one expires
    // before it comes back.
    let server_b = Arc::new(start_on_port(port, &[]).await);
    assert_eq!(server_b.addr().port(), port);
    let waits_for_return = issue(&server_b, CLIENT, "issued-before-reconnect", long);
    // One at a time, so that the ids they get do not depend on the scheduler.
    assert!(
        eventually(Duration::from_secs(2), || async {
            server_b.roll_registry_sizes().0 == 1
        })
        .await
    );
    let expires = issue(&server_b, CLIENT, "expires-before-reconnect", short);
    let (name, outcome, took) = settle(expires).await;
    assert_eq!(
        outcome,
        Err(RollFailure::Timeout {
            waited_ms: short.as_millis() as u64
        }),
        "{name}"
    );
    assert!(took >= short, "{name} failed before its deadline: {took:?}");
    report.push(format!(
        "{name}: failed with Timeout at its {short:?} deadline (after {took:.2?})"
    ));

    // The client comes back: one stored outcome over HTTP, the other over the socket.
    let stored: Vec<String> = client.outbox.keys().cloned().collect();
    assert_eq!(stored, [id_1.clone(), id_2.clone()]);
    let (by_http, by_ws) = (id_1.clone(), id_2.clone());
    let held = client.outbox.remove(&by_ws).expect("entry");
    client.deliver_over_http().await;
    client.outbox.insert(by_ws.clone(), held);
    client.reconnect().await;
    serve_like_the_core(&mut client, Duration::from_secs(5), || {
        waits_for_return.task.is_finished()
    })
    .await;
    let (name, outcome, took) = settle(waits_for_return).await;
    match &outcome {
        Ok(applied) => {
            report.push(format!(
                "{name}: completed after the reconnect, {took:.2?} after it was issued, \
                 with the outcome rolled for {}",
                rolled_for(applied)
            ));
            if rolled_for(applied) != name {
                problems.push(format!(
                    "{name}: server B applied the outcome rolled for {} on server A",
                    rolled_for(applied)
                ));
            }
        }
        Err(failure) => problems.push(format!("{name}: failed after the reconnect: {failure}")),
    }
    // The ack of the stale outcome sent over the socket may still be on its way.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while !client.outbox.is_empty() && Instant::now() < drain_until {
        if let Event::Frame(frame) = client.next_event(Duration::from_millis(20)).await
            && frame["type"] == "roll_ack"
        {
            client.on_roll_ack(&frame);
        }
    }
    if !client.outbox.is_empty() {
        problems.push(format!(
            "the outbox did not empty: {:?}",
            client.outbox.keys().collect::<Vec<_>>()
        ));
    }
    for (id, which, expected) in [
        (&by_http, "rolled-not-sent-1", "http 404 unknown"),
        (&by_ws, "rolled-not-sent-2", "ws roll_ack unknown"),
    ] {
        let said = client.answers.get(id).cloned().unwrap_or_default();
        report.push(format!(
            "the outcome of {which} ({id}), rolled for server A, delivered to server B: {}",
            said.join(", ")
        ));
        if said.last().map(String::as_str) != Some(expected) {
            problems.push(format!(
                "{which} ({id}): the restarted server answered {said:?}, not `{expected}`, \
                 though it never issued that request (the stopped server did)"
            ));
        }
    }

    let metrics = metrics(&server_b).await;
    for (status, expected) in [
        ("unknown", 2),
        ("accepted", 1),
        ("duplicate", 0),
        ("expired", 0),
    ] {
        let counted = counter(&metrics, status);
        if counted != expected {
            problems.push(format!(
                "server B counted {counted} {status} results, expected {expected}"
            ));
        }
    }
    assert_eq!(server_b.roll_registry_sizes().0, 0, "nothing left pending");

    println!(
        "restart test in {:.2?}, port {port}:\n  {}",
        started.elapsed(),
        report.join("\n  ")
    );
    if let Some(mut ws) = client.ws.take() {
        let _ = ws.close(None).await;
    }
    shut_down_after(server_b).await.expect("server B stops");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A browser keeps unanswered outcomes in its outbox across a server restart and sends
/// them on reconnect. The restarted server must not take such an outcome as the answer
/// to a request of its own that happens to have the same `request_id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_rolled_before_a_restart_is_never_applied_to_a_request_of_the_restarted_server() {
    const CLIENT: &str = "gb-u1-stale";
    let long = Duration::from_secs(10);

    let server_a = Arc::new(start(&[]).await);
    let port = server_a.addr().port();
    let mut client = OutboxClient::new(port, CLIENT, Rng::new(2));
    client.reconnect().await;
    let before = issue(&server_a, CLIENT, "before-restart", long);
    let stale_id = receive_and_roll(&mut client, "before-restart").await;
    client.cut(CutPoint::BeforeSend).await;
    let _ = server_a.stopper().send(true);
    let (_, outcome, _) = settle(before).await;
    assert_eq!(outcome, Err(RollFailure::ShuttingDown));
    shut_down_after(server_a).await.expect("server A stops");

    let server_b = Arc::new(start_on_port(port, &[]).await);
    let after = issue(&server_b, CLIENT, "after-restart", long);
    assert!(
        eventually(Duration::from_secs(2), || async {
            server_b.roll_registry_sizes().0 == 1
        })
        .await
    );
    client.reconnect().await;
    serve_like_the_core(&mut client, Duration::from_secs(5), || {
        after.task.is_finished()
    })
    .await;
    let (name, outcome, _) = settle(after).await;
    let stale_answer = client.answers.get(&stale_id).cloned().unwrap_or_default();
    let applied = outcome.expect("the new request completes");
    println!(
        "outcome rolled on server A for {stale_id}, sent to server B: {stale_answer:?}; \
         server B's request `{name}` was answered with the outcome rolled for `{}`",
        rolled_for(&applied)
    );
    assert_eq!(
        rolled_for(&applied),
        name,
        "server B applied an outcome rolled before the restart for another request \
         ({stale_id} of server A) to its own request with the same id"
    );
    assert_eq!(
        stale_answer.first().map(String::as_str),
        Some("ws roll_ack unknown"),
        "the stale outcome is answered `unknown`"
    );
    if let Some(mut ws) = client.ws.take() {
        let _ = ws.close(None).await;
    }
    shut_down_after(server_b).await.expect("server B stops");
}
