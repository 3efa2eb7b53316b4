//! The host bridge: the object the JS module passes to `new GoldBoxCore(host)`, through
//! which the core reaches Foundry (events for the UI, dice, translations).

use crate::effects::CoreEvent;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `{ emit(event), roll(formula, flavor), localize(key) }`, written by the JS module.
    #[wasm_bindgen(typescript_type = "GoldBoxHost")]
    #[derive(Debug, Clone)]
    pub type Host;

    #[wasm_bindgen(method, catch, js_name = emit)]
    fn emit_raw(this: &Host, event: &JsValue) -> Result<(), JsValue>;
}

#[wasm_bindgen(typescript_custom_section)]
const HOST_TYPE: &str = r#"
/** The bridge the Foundry module hands to the core. */
export interface GoldBoxHost {
  /** Receives core events: {type: "state" | "turn_started" | "chat_response" | "turn_complete" | "error", ...}. */
  emit(event: object): void;
  /** Rolls with Foundry's dice; never rejects (an error becomes an outcome with `error`). */
  roll(formula: string, flavor?: string): Promise<object>;
  /** game.i18n.localize */
  localize(key: string): string;
}
"#;

impl Host {
    /// Sends an event to the JS module. A throwing listener is logged, never propagated
    /// into the core.
    pub fn emit(&self, event: &CoreEvent) {
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        match event.serialize(&serializer) {
            Ok(value) => {
                if let Err(error) = self.emit_raw(&value) {
                    web_sys::console::error_2(&"Gold Box: an event listener threw".into(), &error);
                }
            }
            Err(error) => web_sys::console::error_1(
                &format!("Gold Box: cannot convert an event: {error}").into(),
            ),
        }
    }
}
