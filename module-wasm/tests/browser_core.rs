//! The core in a real browser (`wasm-pack test --headless --chrome`): the JS-facing
//! class, its events, its storage, and its sockets and timers.

#![cfg(target_arch = "wasm32")]

use gloo_timers::future::TimeoutFuture;
use gold_box_wasm::bindings::{GoldBoxCore, Host};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = "
export function makeHost() {
  return {
    events: [],
    emit(event) { this.events.push(event); },
    roll(formula, flavor) { return Promise.resolve({ formula, flavor, total: null, dice: [], error: 'no dice here' }); },
    localize(key) { return key; },
  };
}
export function statesOf(host) {
  return host.events.filter((e) => e.type === 'state').map((e) => e.state);
}
export function config(serverUrl, userId) {
  return {
    serverUrl,
    token: 'test-token',
    world: { id: 'w1', title: 'World', system: 'dnd5e' },
    user: { id: userId, name: 'GM', is_gm: true },
  };
}
export function clearSession() { sessionStorage.clear(); }
")]
extern "C" {
    #[wasm_bindgen(js_name = makeHost)]
    fn make_host() -> Host;
    #[wasm_bindgen(js_name = statesOf)]
    fn states_of(host: &Host) -> Vec<String>;
    fn config(server_url: &str, user_id: &str) -> JsValue;
    #[wasm_bindgen(js_name = clearSession)]
    fn clear_session();
}

/// A port nothing listens on: connections to it are refused at once.
const CLOSED_SERVER: &str = "http://127.0.0.1:9";

async fn wait_for_state(host: &Host, state: &str, max_ms: u32) -> bool {
    let mut waited = 0;
    while waited < max_ms {
        if states_of(host).iter().any(|s| s == state) {
            return true;
        }
        TimeoutFuture::new(20).await;
        waited += 20;
    }
    false
}

#[wasm_bindgen_test]
fn a_new_core_is_idle() {
    let core = GoldBoxCore::new(make_host());
    assert_eq!(core.state(), "idle");
}

#[wasm_bindgen_test]
fn start_refuses_a_configuration_without_a_server_url() {
    let core = GoldBoxCore::new(make_host());
    let bad = js_sys::JSON::parse(r#"{"token":"t"}"#).expect("json");
    assert!(core.start(bad).is_err());
    assert_eq!(core.state(), "idle");
}

#[wasm_bindgen_test]
fn start_refuses_a_server_url_without_http() {
    let core = GoldBoxCore::new(make_host());
    let error = core
        .start(config("127.0.0.1:8787", "u1"))
        .expect_err("no scheme");
    let message = JsValue::from(error);
    let text = js_sys::Reflect::get(&message, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    assert!(text.contains("http://127.0.0.1:8787"), "{text}");
}

#[wasm_bindgen_test]
fn the_client_id_survives_a_new_core_in_the_same_tab() {
    clear_session();
    let first = GoldBoxCore::new(make_host());
    first.start(config(CLOSED_SERVER, "u1")).expect("start");
    let id = first.client_id();
    assert!(
        id.starts_with("gb-u1-") && id.len() > "gb-u1-".len(),
        "{id}"
    );
    first.stop();
    drop(first);

    let second = GoldBoxCore::new(make_host());
    second.start(config(CLOSED_SERVER, "u1")).expect("start");
    assert_eq!(second.client_id(), id, "a reload keeps the id");
    second.stop();

    let other_user = GoldBoxCore::new(make_host());
    other_user
        .start(config(CLOSED_SERVER, "u2"))
        .expect("start");
    assert!(other_user.client_id().starts_with("gb-u2-"));
    other_user.stop();
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_retried() {
    let host = make_host();
    let core = GoldBoxCore::new(host.clone());
    core.start(config(CLOSED_SERVER, "u1")).expect("start");
    assert_eq!(core.state(), "connecting");
    assert!(
        wait_for_state(&host, "reconnecting", 3_000).await,
        "states: {:?}",
        states_of(&host)
    );
    // The first retry is immediate, so a second connecting follows.
    let mut connecting = 0;
    for _ in 0..100 {
        connecting = states_of(&host)
            .iter()
            .filter(|s| *s == "connecting")
            .count();
        if connecting >= 2 {
            break;
        }
        TimeoutFuture::new(20).await;
    }
    assert!(connecting >= 2, "states: {:?}", states_of(&host));
    core.stop();
}

#[wasm_bindgen_test]
async fn stop_cancels_pending_reconnects() {
    let host = make_host();
    let core = GoldBoxCore::new(host.clone());
    core.start(config(CLOSED_SERVER, "u1")).expect("start");
    assert!(wait_for_state(&host, "reconnecting", 3_000).await);
    core.stop();
    assert_eq!(core.state(), "idle");
    let seen = states_of(&host).len();
    // Longer than the first backoff steps (0 ms, then 1 s ± 50 %).
    TimeoutFuture::new(1_700).await;
    assert_eq!(
        states_of(&host).len(),
        seen,
        "states after stop: {:?}",
        states_of(&host)
    );
}
