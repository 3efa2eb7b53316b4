//! The settings-pending indicator in a real browser: one dot however many changes, a
//! localized label, kept while offline, and put back on a newly placed button.

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
export function placeButton() {
  document.getElementById('gold-box-ai-turn-btn')?.remove();
  const button = document.createElement('button');
  button.id = 'gold-box-ai-turn-btn';
  button.textContent = 'Take AI Turn';
  document.body.appendChild(button);
  return button;
}
export function indicators(button) {
  return Array.from(button.querySelectorAll('span.settings-pending-indicator'));
}
export function pendingEvents(host) {
  return host.events.filter((e) => e.type === 'settings_pending').map((e) => e.pending);
}
")]
extern "C" {
    #[wasm_bindgen(js_name = makeHost)]
    fn make_host() -> Host;
    fn config() -> JsValue;
    #[wasm_bindgen(js_name = placeButton)]
    fn place_button() -> web_sys::Element;
    fn indicators(button: &web_sys::Element) -> Vec<web_sys::Element>;
    #[wasm_bindgen(js_name = pendingEvents)]
    fn pending_events(host: &Host) -> Vec<JsValue>;
}

fn change(core: &GoldBoxCore, value: &str) {
    core.setting_changed("aiRole".into(), JsValue::from_str(value))
        .expect("a JSON value");
}

#[wasm_bindgen_test]
fn many_changes_show_exactly_one_localized_indicator() {
    let button = place_button();
    let host = make_host();
    let core = GoldBoxCore::new(host.clone());
    core.start(config()).expect("start");
    for value in ["player", "dm_assistant", "player", "dm"] {
        change(&core, value);
    }
    assert!(button.class_list().contains("settings-pending"));
    let dots = indicators(&button);
    assert_eq!(dots.len(), 1);
    assert_eq!(dots[0].text_content().as_deref(), Some("•"));
    let label = "L:GOLD_BOX.Indicator.SettingsPending";
    assert_eq!(dots[0].get_attribute("title").as_deref(), Some(label));
    assert_eq!(dots[0].get_attribute("aria-label").as_deref(), Some(label));
    assert_eq!(
        pending_events(&host).len(),
        1,
        "the pending event fires once"
    );
    assert!(core.settings_pending());
    core.stop();
}

#[wasm_bindgen_test]
async fn the_indicator_stays_while_offline() {
    let button = place_button();
    let core = GoldBoxCore::new(make_host());
    core.start(config()).expect("start");
    change(&core, "player");
    // Past the debounce: with no server the sync cannot be acknowledged.
    TimeoutFuture::new(1_300).await;
    assert!(core.settings_pending());
    assert!(button.class_list().contains("settings-pending"));
    assert_eq!(indicators(&button).len(), 1);
    core.stop();
}

#[wasm_bindgen_test]
fn a_newly_placed_button_gets_the_indicator_on_refresh() {
    place_button();
    let core = GoldBoxCore::new(make_host());
    core.start(config()).expect("start");
    change(&core, "player");
    let fresh = place_button();
    assert!(indicators(&fresh).is_empty());
    core.refresh_indicator();
    assert_eq!(indicators(&fresh).len(), 1);
    core.refresh_indicator();
    assert_eq!(
        indicators(&fresh).len(),
        1,
        "refreshing twice still shows one"
    );
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
