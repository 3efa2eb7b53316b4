//! The host bridge: the object the JS module passes to `new GoldBoxCore(host)`, through
//! which the core reaches Foundry (events for the UI, dice, translations).

use super::js_json;
use crate::effects::CoreEvent;
use gold_box_protocol::json::FromJson;
use gold_box_protocol::text::concat;
use gold_box_protocol::{RollOutcome, RollRequest};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// `{ emit(event), roll(formula, flavor), localize(key) }`, written by the JS module.
    #[wasm_bindgen(typescript_type = "GoldBoxHost")]
    #[derive(Debug, Clone)]
    pub type Host;

    #[wasm_bindgen(method, catch, js_name = emit)]
    fn emit_raw(this: &Host, event: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(method, catch, js_name = roll)]
    fn roll_raw(
        this: &Host,
        formula: &str,
        flavor: Option<String>,
        request_id: &str,
        audience: &str,
    ) -> Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = localize)]
    fn localize_raw(this: &Host, key: &str) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen(typescript_custom_section)]
const HOST_TYPE: &str = r#"
/** The bridge the Foundry module hands to the core. */
export interface GoldBoxHost {
  /** Receives core events: {type: "state" | "turn" | "turn_started" | "chat_response" | "turn_complete" | "error" | "settings_pending", ...}. */
  emit(event: object): void;
  /** Rolls with Foundry's dice for the server's roll request `requestId` and posts them
   *  for `audience` (the core's decision); never rejects (an error becomes an outcome
   *  with `error`). */
  roll(formula: string, flavor: string | undefined, requestId: string, audience: "public" | "gm"): Promise<object>;
  /** game.i18n.localize */
  localize(key: string): string;
}
"#;

impl Host {
    /// Sends an event to the JS module. A throwing listener is logged, never propagated
    /// into the core.
    pub fn emit(&self, event: &CoreEvent) {
        // Written as JSON and parsed by the browser into the plain object the JS module
        // reads: the shape serde-wasm-bindgen made, with no serde code in the .wasm.
        let text = crate::wire::encode(event);
        match js_sys::JSON::parse(&text) {
            Ok(value) => {
                if let Err(error) = self.emit_raw(&value) {
                    web_sys::console::error_2(&"Gold Box: an event listener threw".into(), &error);
                }
            }
            Err(error) => {
                web_sys::console::error_2(&"Gold Box: cannot convert an event".into(), &error)
            }
        }
    }
}

impl Host {
    /// Rolls one formula with Foundry's dice for the roll request `request_id`, posted for
    /// `audience` (`"public"` or `"gm"`). Whatever goes wrong on the JS side becomes an
    /// outcome with `error`, never a failure of the core.
    pub async fn roll(
        &self,
        request: &RollRequest,
        request_id: &str,
        audience: &str,
    ) -> RollOutcome {
        let failed = |error: String| RollOutcome {
            formula: request.formula.clone(),
            flavor: request.flavor.clone(),
            total: None,
            dice: Vec::new(),
            error: Some(error),
        };
        let promise = match self.roll_raw(
            &request.formula,
            request.flavor.clone(),
            request_id,
            audience,
        ) {
            Ok(promise) => promise,
            Err(error) => return failed(describe(&error)),
        };
        match JsFuture::from(promise).await {
            Ok(value) => js_json::from_js(&value)
                .and_then(|value| RollOutcome::from_json(&value).map_err(|e| e.message()))
                .unwrap_or_else(|e| {
                    failed(concat(&[
                        "the dice bridge returned an unreadable outcome: ",
                        &e,
                    ]))
                }),
            Err(error) => failed(describe(&error)),
        }
    }

    /// `game.i18n.localize(key)`, or the key itself when that fails.
    pub fn localize(&self, key: &str) -> String {
        self.localize_raw(key)
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_else(|| key.to_owned())
    }
}

fn describe(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the dice bridge failed".into())
}
