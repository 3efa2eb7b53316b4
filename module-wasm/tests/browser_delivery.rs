//! Roll-result delivery from a real browser to the real server (`cargo xtask test`
//! starts it and passes its address at compile time): the ack path, the HTTP fallback
//! when the socket is closed, and a reloaded page that delivers a stored result without
//! rolling again and is answered `duplicate`, never applied twice.

#![cfg(target_arch = "wasm32")]

use gloo_timers::future::TimeoutFuture;
use gold_box_wasm::bindings::{GoldBoxCore, Host};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: Option<&str> = option_env!("GOLD_BOX_TEST_SERVER");
const TOKEN: Option<&str> = option_env!("GOLD_BOX_TEST_TOKEN");
const ADMIN_TOKEN: Option<&str> = option_env!("GOLD_BOX_TEST_ADMIN_TOKEN");

fn server() -> (&'static str, &'static str, &'static str) {
    match (SERVER, TOKEN, ADMIN_TOKEN) {
        (Some(server), Some(token), Some(admin)) => (server, token, admin),
        _ => panic!(
            "these tests need the server `cargo xtask test` starts (GOLD_BOX_TEST_SERVER was not set at build time)"
        ),
    }
}

#[wasm_bindgen(inline_js = r#"
export function makeHost() {
  const host = {
    events: [],
    rolls: [],
    held: [],
    hold: false,
    emit(event) { this.events.push(event); },
    roll(formula, flavor, requestId) {
      // A miss (a natural 1), so the offline AI asks for no damage roll.
      const outcome = { formula, total: 2, dice: [{ faces: 20, results: [{ result: 1, active: true }] }] };
      this.rolls.push({ formula, requestId, outcome });
      if (!this.hold) return Promise.resolve(outcome);
      return new Promise((resolve) => this.held.push(() => resolve(outcome)));
    },
    release() { const held = this.held; this.held = []; held.forEach((go) => go()); },
    localize(key) { return key; },
  };
  return host;
}
export function setHold(host, hold) { host.hold = hold; }
export function heldCount(host) { return host.held.length; }
export function release(host) { host.release(); }
export function rollCount(host) { return host.rolls.length; }
export function rolledIds(host) { return host.rolls.map((r) => r.requestId); }
export function lastRoll(host) { return host.rolls[host.rolls.length - 1]; }
export function hasEvent(host, type) { return host.events.some((e) => e.type === type); }
export function config(serverUrl, token) {
  return {
    serverUrl, token,
    world: { id: 'w1', title: 'World', system: 'dnd5e' },
    user: { id: 'u1', name: 'GM', is_gm: true },
    settings: { aiRole: 'dm', contextMessages: 15 },
  };
}
export function attack() {
  return [{ speaker: 'Aria', content: 'I attack the goblin with my longsword!', kind: 'chat', timestamp: Date.now(), visibility: 'public' }];
}
export async function metrics(server, admin) {
  const response = await fetch(server + '/api/metrics', { headers: { authorization: 'Bearer ' + admin } });
  const body = await response.json();
  const rolls = body.websocket.roll_results;
  return [rolls.accepted, rolls.duplicate, rolls.by_transport.ws, rolls.by_transport.http];
}
export function storedOutboxKeys() {
  return Object.keys(sessionStorage).filter((key) => key.startsWith('gold-box.outbox.'));
}
export function storeOutboxEntry(requestId, formula, outcome) {
  sessionStorage.setItem('gold-box.outbox.' + requestId, JSON.stringify({
    request_id: requestId, deadline_ms: Date.now() + 20000, rolls: [{ formula }], results: [outcome],
  }));
}
export function lastRollId(host) { return host.rolls[host.rolls.length - 1].requestId; }
export function lastRollFormula(host) { return host.rolls[host.rolls.length - 1].formula; }
export function lastOutcome(host) { return host.rolls[host.rolls.length - 1].outcome; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeHost)]
    fn make_host() -> Host;
    #[wasm_bindgen(js_name = setHold)]
    fn set_hold(host: &Host, hold: bool);
    #[wasm_bindgen(js_name = heldCount)]
    fn held_count(host: &Host) -> u32;
    fn release(host: &Host);
    #[wasm_bindgen(js_name = rollCount)]
    fn roll_count(host: &Host) -> u32;
    #[wasm_bindgen(js_name = rolledIds)]
    fn rolled_ids(host: &Host) -> Vec<String>;
    #[wasm_bindgen(js_name = hasEvent)]
    fn has_event(host: &Host, kind: &str) -> bool;
    fn config(server: &str, token: &str) -> JsValue;
    fn attack() -> JsValue;
    fn metrics(server: &str, admin: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = storedOutboxKeys)]
    fn stored_outbox_keys() -> Vec<String>;
    #[wasm_bindgen(js_name = storeOutboxEntry)]
    fn store_outbox_entry(request_id: &str, formula: &str, outcome: &JsValue);
    #[wasm_bindgen(js_name = lastRollId)]
    fn last_roll_id(host: &Host) -> String;
    #[wasm_bindgen(js_name = lastRollFormula)]
    fn last_roll_formula(host: &Host) -> String;
    #[wasm_bindgen(js_name = lastOutcome)]
    fn last_outcome(host: &Host) -> JsValue;
}

thread_local! {
    static SERVER_IN_USE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The test runner runs async tests concurrently; these share one server (one AI turn
/// at a time) and one tab's storage, so each holds this for its whole run.
struct Exclusive;

impl Drop for Exclusive {
    fn drop(&mut self) {
        SERVER_IN_USE.with(|busy| busy.set(false));
    }
}

async fn exclusive() -> Exclusive {
    while SERVER_IN_USE.with(|busy| busy.replace(true)) {
        TimeoutFuture::new(20).await;
    }
    Exclusive
}

/// `[accepted, duplicate, ws, http]` from the server's metrics.
async fn roll_counts() -> [u64; 4] {
    let (server, _, admin) = server();
    let values = JsFuture::from(metrics(server, admin))
        .await
        .expect("metrics");
    let array = js_sys::Array::from(&values);
    let at = |i: u32| array.get(i).as_f64().unwrap_or(-1.0) as u64;
    [at(0), at(1), at(2), at(3)]
}

async fn wait_until(what: &str, max_ms: u32, mut condition: impl FnMut() -> bool) {
    let mut waited = 0;
    while !condition() {
        assert!(waited < max_ms, "waited {max_ms} ms for {what}");
        TimeoutFuture::new(20).await;
        waited += 20;
    }
}

async fn connected_core(host: &Host) -> GoldBoxCore {
    let (server, token, _) = server();
    let core = GoldBoxCore::new(host.clone());
    core.start(config(server, token)).expect("start");
    wait_until("the handshake", 5_000, || core.state() == "connected").await;
    core
}

async fn take_turn(core: &GoldBoxCore) -> String {
    let promise = core.take_ai_turn(attack()).expect("a turn");
    JsFuture::from(promise)
        .await
        .expect("the server starts the turn")
        .as_string()
        .expect("a request id")
}

#[wasm_bindgen_test]
async fn a_roll_is_made_once_and_acknowledged_over_the_socket() {
    let _exclusive = exclusive().await;
    let before = roll_counts().await;
    let host = make_host();
    let core = connected_core(&host).await;
    take_turn(&core).await;
    wait_until("the end of the turn", 10_000, || {
        has_event(&host, "turn_complete")
    })
    .await;
    let ids = rolled_ids(&host);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert!(!ids.is_empty(), "the AI asked for a roll");
    assert_eq!(
        unique.len(),
        ids.len(),
        "each request was rolled once: {ids:?}"
    );
    wait_until("the outbox to empty", 2_000, || core.outbox_size() == 0).await;
    assert!(
        stored_outbox_keys().is_empty(),
        "nothing is left in storage"
    );
    let after = roll_counts().await;
    assert_eq!(
        after[0] - before[0],
        ids.len() as u64,
        "accepted once per request"
    );
    assert_eq!(after[2] - before[2], ids.len() as u64, "over the socket");
    assert_eq!(after[3], before[3], "nothing over HTTP");
    core.stop();
}

#[wasm_bindgen_test]
async fn with_the_socket_closed_the_result_goes_over_http() {
    let _exclusive = exclusive().await;
    let before = roll_counts().await;
    let host = make_host();
    set_hold(&host, true);
    let core = connected_core(&host).await;
    take_turn(&core).await;
    wait_until("the roll to start", 10_000, || held_count(&host) == 1).await;
    // The socket closes while Foundry's dice are rolling.
    core.stop();
    release(&host);
    let mut after = roll_counts().await;
    for _ in 0..250 {
        if after[3] > before[3] {
            break;
        }
        TimeoutFuture::new(20).await;
        after = roll_counts().await;
    }
    wait_until("the outbox to empty", 2_000, || core.outbox_size() == 0).await;
    assert_eq!(after[0] - before[0], 1, "accepted once");
    assert_eq!(after[3] - before[3], 1, "over HTTP");
    assert_eq!(after[2], before[2], "not over the socket");
    // Back online, the turn's output waiting on the server arrives.
    let (server, token, _) = server();
    core.start(config(server, token)).expect("restart");
    wait_until("the end of the turn after the reconnect", 10_000, || {
        has_event(&host, "turn_complete")
    })
    .await;
    assert_eq!(roll_count(&host), 1, "never rolled again");
    core.stop();
}

#[wasm_bindgen_test]
async fn a_reloaded_page_delivers_its_stored_result_without_rolling_and_hears_duplicate() {
    let _exclusive = exclusive().await;
    let host = make_host();
    let core = connected_core(&host).await;
    take_turn(&core).await;
    wait_until("the end of the turn", 10_000, || {
        has_event(&host, "turn_complete")
    })
    .await;
    wait_until("the outbox to empty", 2_000, || core.outbox_size() == 0).await;
    core.stop();
    drop(core);
    // As if the page reloaded before the ack arrived: the outcome is still in storage.
    store_outbox_entry(
        &last_roll_id(&host),
        &last_roll_formula(&host),
        &last_outcome(&host),
    );
    let before = roll_counts().await;
    let reloaded_host = make_host();
    let reloaded = connected_core(&reloaded_host).await;
    wait_until("the stored result's answer", 5_000, || {
        reloaded.outbox_size() == 0
    })
    .await;
    assert!(stored_outbox_keys().is_empty());
    assert_eq!(roll_count(&reloaded_host), 0, "a reload never rolls again");
    let after = roll_counts().await;
    assert_eq!(after[0], before[0], "not applied a second time");
    assert_eq!(after[1] - before[1], 1, "answered duplicate");
    reloaded.stop();
}
