//! The settings-pending state in a real browser: reported once however many changes,
//! and kept while offline. The core reports it (`settings_pending` events,
//! `settingsPending()`); the JS module draws the dot on the button it owns, which the
//! end-to-end test `tests/tests/settings_sync.rs` checks in the page.

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
    roll(formula, flavor) { return Promise.resolve({ formula, flavor, total: 1, dice: [] }); },
    localize(key) { return 'L:' + key; },
  };
}
export function config() {
  return {
    serverUrl: 'http://127.0.0.1:9',
    token: 't',
    world: { id: 'w1', title: 'World', system: 'dnd5e' },
    user: { id: 'u1', name: 'GM', is_gm: true },
    settings: { aiRole: 'dm', contextMessages: 15 },
  };
}
export function pendingEvents(host) {
  return host.events.filter((e) => e.type === 'settings_pending').map((e) => e.pending);
}
")]
extern "C" {
    #[wasm_bindgen(js_name = makeHost)]
    fn make_host() -> Host;
    fn config() -> JsValue;
    #[wasm_bindgen(js_name = pendingEvents)]
    fn pending_events(host: &Host) -> Vec<JsValue>;
}

fn change(core: &GoldBoxCore, value: &str) {
    core.setting_changed("aiRole".into(), JsValue::from_str(value))
        .expect("a JSON value");
}

#[wasm_bindgen_test]
fn many_changes_report_pending_once() {
    let host = make_host();
    let core = GoldBoxCore::new(host.clone());
    core.start(config()).expect("start");
    for value in ["player", "dm_assistant", "player", "dm"] {
        change(&core, value);
    }
    let events = pending_events(&host);
    assert_eq!(events.len(), 1, "the pending event fires once");
    assert_eq!(events[0].as_bool(), Some(true));
    assert!(core.settings_pending());
    core.stop();
}

#[wasm_bindgen_test]
async fn pending_stays_while_offline() {
    let host = make_host();
    let core = GoldBoxCore::new(host.clone());
    core.start(config()).expect("start");
    change(&core, "player");
    // Past the debounce: with no server the sync cannot be acknowledged.
    TimeoutFuture::new(1_300).await;
    assert!(core.settings_pending());
    let events = pending_events(&host);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].as_bool(), Some(true));
    core.stop();
}

#[wasm_bindgen_test]
fn a_setting_value_that_is_not_json_is_refused_with_its_name() {
    let core = GoldBoxCore::new(make_host());
    core.start(config()).expect("start");
    let error = core
        .setting_changed("aiRole".into(), js_sys::Function::new_no_args("").into())
        .expect_err("a function is not a setting value");
    let message = js_sys::Reflect::get(&JsValue::from(error), &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    assert!(message.contains("aiRole"), "{message}");
    core.stop();
}
