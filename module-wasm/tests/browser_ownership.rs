//! What the core owns and keeps, in a real browser: a settled roll request is never
//! rolled again, not even after a reload (sessionStorage); where the session stream was
//! left survives a reload, so a narration is not shown twice; a core that is dropped asks Foundry for no
//! further dice, aborts its fallback POST and rejects the turns it was waiting on; and a
//! listener that calls back into the core while an event is being handled never runs
//! ahead of the commands already produced.
//!
//! The server side is a scripted WebSocket installed in the page (and `fetch` one that
//! never answers): the real server's AI asks for one die per request and answers a POST
//! at once, so it cannot hold the core in the states these tests need. The core, its
//! bindings, storage and timers are the real ones.

#![cfg(target_arch = "wasm32")]

use gloo_timers::future::TimeoutFuture;
use gold_box_wasm::bindings::{GoldBoxCore, Host};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
const fake = { sockets: [], fetches: [] };
class ScriptedWebSocket {
  static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
  constructor(url) {
    this.url = url; this.readyState = 0; this.sent = [];
    this.onopen = null; this.onmessage = null; this.onclose = null;
    fake.sockets.push(this);
  }
  send(text) {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(text));
  }
  close() { this.readyState = 3; }
}
export function install() {
  globalThis.WebSocket = ScriptedWebSocket;
  globalThis.fetch = (request) => { fake.fetches.push(request); return new Promise(() => {}); };
  sessionStorage.clear();
}
function last() { return fake.sockets[fake.sockets.length - 1]; }
export function socketCount() { return fake.sockets.length; }
export function serverOpens() { const s = last(); s.readyState = 1; s.onopen && s.onopen(new Event('open')); }
export function serverSends(json) { const s = last(); s.onmessage && s.onmessage(new MessageEvent('message', { data: json })); }
export function serverDrops() { const s = last(); s.readyState = 3; s.onclose && s.onclose(new CloseEvent('close', { code: 1006, reason: '' })); }
export function sentTypes() { return last().sent.map((f) => f.type); }
export function sentJson(index) { return JSON.stringify(last().sent[index]); }
export function ackedSeqs() { return last().sent.filter((f) => f.type === 'ack').map((f) => f.data.seq); }
export function narrationCount(host) { return host.events.filter((e) => e.type === 'chat_response').length; }
export function fetchCount() { return fake.fetches.length; }
export function lastFetchAborted() { return fake.fetches[fake.fetches.length - 1].signal.aborted; }
export function makeHost() {
  return {
    events: [], rolls: [], held: [], hold: false, onEvent: null,
    emit(event) { this.events.push(event); if (this.onEvent) this.onEvent(event); },
    roll(formula, flavor, requestId) {
      const outcome = { formula, total: 3, dice: [{ faces: 6, results: [{ result: 3, active: true }] }] };
      this.rolls.push(requestId);
      if (!this.hold) return Promise.resolve(outcome);
      return new Promise((resolve) => this.held.push(() => resolve(outcome)));
    },
    localize(key) { return key; },
  };
}
export function setHold(host) { host.hold = true; }
export function heldCount(host) { return host.held.length; }
export function release(host) { const held = host.held; host.held = []; held.forEach((go) => go()); }
export function rollCount(host) { return host.rolls.length; }
export function onConnected(host, callback) {
  host.onEvent = (event) => { if (event.type === 'state' && event.state === 'connected') callback(); };
}
export function config() {
  return {
    serverUrl: 'http://127.0.0.1:9', token: 't',
    world: { id: 'w1', title: 'World', system: 'dnd5e' },
    user: { id: 'u1', name: 'GM', is_gm: true },
    settings: { aiRole: 'dm' },
  };
}
export function attack() {
  return [{ speaker: 'Aria', content: 'I attack!', kind: 'chat', timestamp: Date.now(), visibility: 'public' }];
}
export function settledWithin(promise, ms) {
  return Promise.race([
    promise.then(() => 'resolved', (error) => 'rejected: ' + (error && error.message)),
    new Promise((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);
}
"#)]
extern "C" {
    fn install();
    #[wasm_bindgen(js_name = socketCount)]
    fn socket_count() -> u32;
    #[wasm_bindgen(js_name = serverOpens)]
    fn server_opens();
    #[wasm_bindgen(js_name = serverSends)]
    fn server_sends(json: &str);
    #[wasm_bindgen(js_name = serverDrops)]
    fn server_drops();
    #[wasm_bindgen(js_name = sentTypes)]
    fn sent_types() -> Vec<String>;
    #[wasm_bindgen(js_name = sentJson)]
    fn sent_json(index: u32) -> String;
    #[wasm_bindgen(js_name = ackedSeqs)]
    fn acked_seqs() -> Vec<u32>;
    #[wasm_bindgen(js_name = narrationCount)]
    fn narration_count(host: &Host) -> u32;
    #[wasm_bindgen(js_name = fetchCount)]
    fn fetch_count() -> u32;
    #[wasm_bindgen(js_name = lastFetchAborted)]
    fn last_fetch_aborted() -> bool;
    #[wasm_bindgen(js_name = makeHost)]
    fn make_host() -> Host;
    #[wasm_bindgen(js_name = setHold)]
    fn set_hold(host: &Host);
    #[wasm_bindgen(js_name = heldCount)]
    fn held_count(host: &Host) -> u32;
    fn release(host: &Host);
    #[wasm_bindgen(js_name = rollCount)]
    fn roll_count(host: &Host) -> u32;
    #[wasm_bindgen(js_name = onConnected)]
    fn on_connected(host: &Host, callback: &Closure<dyn FnMut()>);
    fn config() -> JsValue;
    fn attack() -> JsValue;
    #[wasm_bindgen(js_name = settledWithin)]
    fn settled_within(promise: &js_sys::Promise, ms: u32) -> js_sys::Promise;
}

const CONNECTED: &str = r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"i1"}}"#;

thread_local! {
    static IN_USE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The tests share the page's one scripted socket list and storage: one at a time.
struct Exclusive;

impl Drop for Exclusive {
    fn drop(&mut self) {
        IN_USE.with(|busy| busy.set(false));
    }
}

async fn exclusive() -> Exclusive {
    while IN_USE.with(|busy| busy.replace(true)) {
        TimeoutFuture::new(20).await;
    }
    install();
    Exclusive
}

async fn wait_until(what: &str, max_ms: u32, mut condition: impl FnMut() -> bool) {
    let mut waited = 0;
    while !condition() {
        assert!(waited < max_ms, "waited {max_ms} ms for {what}");
        TimeoutFuture::new(10).await;
        waited += 10;
    }
}

/// A core connected to the scripted server.
fn connected_core(host: &Host) -> GoldBoxCore {
    let sockets = socket_count();
    let core = GoldBoxCore::new(host.clone());
    core.start(config()).expect("start");
    assert_eq!(socket_count(), sockets + 1, "the core opened a socket");
    server_opens();
    server_sends(CONNECTED);
    assert_eq!(core.state(), "connected");
    core
}

fn execute_roll(id: &str, formulas: &[&str]) -> String {
    let rolls: Vec<String> = formulas
        .iter()
        .map(|f| format!(r#"{{"formula":"{f}"}}"#))
        .collect();
    format!(
        r#"{{"type":"execute_roll","request_id":"{id}","data":{{"rolls":[{}],"timeout_ms":30000}}}}"#,
        rolls.join(",")
    )
}

#[wasm_bindgen_test]
async fn a_dropped_core_asks_for_no_further_dice() {
    let _one = exclusive().await;
    let host = make_host();
    set_hold(&host);
    let core = connected_core(&host);
    server_sends(&execute_roll("roll-a", &["1d6", "1d8", "1d10"]));
    wait_until("the first die", 1_000, || held_count(&host) == 1).await;
    drop(core);
    release(&host);
    TimeoutFuture::new(100).await;
    release(&host);
    TimeoutFuture::new(100).await;
    assert_eq!(roll_count(&host), 1, "a dropped core rolled more dice");
}

#[wasm_bindgen_test]
async fn a_dropped_core_aborts_its_fallback_post() {
    let _one = exclusive().await;
    let host = make_host();
    let core = connected_core(&host);
    server_sends(&execute_roll("roll-b", &["1d6"]));
    wait_until("the roll result on the socket", 1_000, || {
        sent_types().iter().any(|t| t == "roll_result")
    })
    .await;
    let posts = fetch_count();
    // The socket drops before the ack: the result goes over HTTP, which hangs.
    server_drops();
    wait_until("the fallback POST", 1_000, || fetch_count() == posts + 1).await;
    assert!(!last_fetch_aborted());
    drop(core);
    assert!(
        last_fetch_aborted(),
        "the POST of a dropped core still runs"
    );
}

#[wasm_bindgen_test]
async fn a_dropped_core_rejects_the_turn_it_was_waiting_on() {
    let _one = exclusive().await;
    let host = make_host();
    let core = connected_core(&host);
    let turn = core.take_ai_turn(attack()).expect("a turn");
    drop(core);
    let outcome = JsFuture::from(settled_within(&turn, 500))
        .await
        .expect("race")
        .as_string()
        .unwrap_or_default();
    assert!(
        outcome.starts_with("rejected: ") && outcome.contains("shut down"),
        "{outcome}"
    );
}

#[wasm_bindgen_test]
async fn a_listener_calling_back_during_an_event_runs_after_the_events_commands() {
    let _one = exclusive().await;
    let host = make_host();
    let core = Rc::new(GoldBoxCore::new(host.clone()));
    let asked = core.clone();
    let callback = Closure::<dyn FnMut()>::new(move || {
        // The glue asks for a turn as soon as it sees the connection.
        let _ = asked.take_ai_turn(attack());
    });
    on_connected(&host, &callback);
    core.start(config()).expect("start");
    server_opens();
    server_sends(CONNECTED);
    assert_eq!(
        sent_types(),
        ["connect", "settings_sync", "chat_request"],
        "the settings sync the machine produced first is sent first"
    );
    core.stop();
    drop(callback);
}

const NARRATION: &str = r#"{"type":"chat_response","request_id":"turn-x","seq":5,"data":{"message":{"speaker":"GM","content":"The goblin falls.","kind":"narration"}}}"#;

#[wasm_bindgen_test]
async fn a_reloaded_page_resumes_where_it_left_off_and_shows_nothing_twice() {
    let _one = exclusive().await;
    let host = make_host();
    let core = connected_core(&host);
    server_sends(NARRATION);
    assert_eq!(narration_count(&host), 1);
    assert_eq!(acked_seqs(), [5]);
    drop(core);

    // The page reloads: a new core in the same tab.
    let reloaded_host = make_host();
    let reloaded = GoldBoxCore::new(reloaded_host.clone());
    reloaded.start(config()).expect("start");
    server_opens();
    let connect: serde_json::Value =
        serde_json::from_str(&sent_json(0)).expect("the connect frame");
    assert_eq!(
        connect["data"]["resume"],
        serde_json::json!({"instance": "i1", "last_seq": 5})
    );
    server_sends(
        r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"i1","resume":{"replayed":1,"missed":0}}}"#,
    );
    // The frame the server replays was processed before the reload.
    server_sends(NARRATION);
    assert_eq!(narration_count(&reloaded_host), 0, "shown twice");
    assert_eq!(acked_seqs(), [5], "acknowledged again");
    reloaded.stop();
}

#[wasm_bindgen_test]
async fn a_settled_request_sent_again_is_never_rolled_not_even_after_a_reload() {
    let _one = exclusive().await;
    let host = make_host();
    let core = connected_core(&host);
    server_sends(&execute_roll("roll-s", &["1d6"]));
    wait_until("the roll result on the socket", 1_000, || {
        sent_types().iter().any(|t| t == "roll_result")
    })
    .await;
    server_sends(r#"{"type":"roll_ack","request_id":"roll-s","data":{"status":"accepted"}}"#);
    assert_eq!(core.outbox_size(), 0);
    // A reconnect raced the ack: the server asks again.
    server_sends(&execute_roll("roll-s", &["1d6"]));
    TimeoutFuture::new(50).await;
    assert_eq!(roll_count(&host), 1, "rolled again");
    drop(core);

    let reloaded_host = make_host();
    let reloaded = connected_core(&reloaded_host);
    server_sends(&execute_roll("roll-s", &["1d6"]));
    TimeoutFuture::new(50).await;
    assert_eq!(roll_count(&reloaded_host), 0, "rolled again after a reload");
    reloaded.stop();
}
