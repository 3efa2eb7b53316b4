//! `GoldBoxCore`, the class the JS module constructs: it owns the state machine and the
//! browser objects that carry out its commands, and turns browser events into inputs.
//!
//! The runtime sits in an `Rc<RefCell<_>>`; every callback holds only a `Weak` to it,
//! so dropping the core (JS `free()`) drops the socket, the timers and pending promises
//! with it. No borrow is held while calling into JS, so a listener may call back into
//! the core.

use super::dom;
use super::host::Host;
use super::http;
use super::socket::{Socket, SocketEvent};
use super::storage;
use super::timers::Timers;
use crate::config::CoreConfig;
use crate::effects::{Command, Input, TimerKind};
use crate::machine::{Machine, Restored};
use gold_box_protocol::{ChatEntry, JsonValue, RollOutcome};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// The translation key of the indicator's tooltip and accessible label.
const INDICATOR_LABEL_KEY: &str = "GOLD_BOX.Indicator.SettingsPending";

/// The two functions that settle a `takeAiTurn` promise.
#[derive(Debug)]
struct PendingTurn {
    resolve: js_sys::Function,
    reject: js_sys::Function,
}

#[derive(Debug)]
struct Runtime {
    machine: Machine,
    host: Host,
    socket: Option<Socket>,
    timers: Timers,
    turns: HashMap<String, PendingTurn>,
}

type Shared = Rc<RefCell<Runtime>>;

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn random_seed() -> u64 {
    (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64
}

/// The Gold Box core, as JavaScript sees it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct GoldBoxCore {
    shared: Shared,
}

#[wasm_bindgen]
impl GoldBoxCore {
    /// A core that reports to `host`. Nothing happens until `start`.
    #[wasm_bindgen(constructor)]
    pub fn new(host: Host) -> GoldBoxCore {
        GoldBoxCore {
            shared: Rc::new(RefCell::new(Runtime {
                machine: Machine::new(String::new(), random_seed()),
                host,
                socket: None,
                timers: Timers::default(),
                turns: HashMap::new(),
            })),
        }
    }

    /// Connects with `config` (`{serverUrl, token, world, user, settings}`); calling it
    /// again reconnects with the new configuration. Roll results stored before a page
    /// reload are delivered.
    pub fn start(&self, config: JsValue) -> Result<(), JsError> {
        let config: CoreConfig = serde_wasm_bindgen::from_value(config)
            .map_err(|e| JsError::new(&format!("Gold Box: invalid configuration: {e}")))?;
        let client_id = storage::client_id(&config.user.id);
        let commands = {
            let mut runtime = self.shared.borrow_mut();
            if runtime.machine.client_id() != client_id {
                runtime.machine = Machine::new(client_id, random_seed());
            }
            runtime
                .machine
                .start(
                    config,
                    Restored {
                        outbox: storage::load_outbox(),
                        settled: storage::load_settled(),
                    },
                    now_ms(),
                )
                .map_err(|e| JsError::new(&e.to_string()))?
        };
        execute(&self.shared, commands);
        Ok(())
    }

    /// Closes the connection and cancels every timer.
    pub fn stop(&self) {
        let commands = self.shared.borrow_mut().machine.stop();
        execute(&self.shared, commands);
    }

    /// The connection state: `idle`, `connecting`, `connected`, `reconnecting`,
    /// `auth_failed`, `incompatible` or `replaced`.
    pub fn state(&self) -> String {
        self.shared.borrow().machine.state().as_str().to_owned()
    }

    /// This browser tab's client id (`gb-<userId>-<random>`).
    #[wasm_bindgen(js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.shared.borrow().machine.client_id().to_owned()
    }

    /// A Gold Box setting changed: the server URL and token reconnect; any other setting
    /// shows the pending indicator and is synced after a quiet second.
    #[wasm_bindgen(js_name = settingChanged)]
    pub fn setting_changed(&self, key: String, value: JsValue) -> Result<(), JsError> {
        let value: JsonValue = serde_wasm_bindgen::from_value(value).map_err(|e| {
            JsError::new(&format!(
                "Gold Box: setting `{key}` has a value that is not JSON: {e}"
            ))
        })?;
        feed(&self.shared, Input::SettingChanged { key, value });
        Ok(())
    }

    /// Whether a settings change has not reached the server yet.
    #[wasm_bindgen(js_name = settingsPending)]
    pub fn settings_pending(&self) -> bool {
        self.shared.borrow().machine.settings_pending()
    }

    /// Roll results stored and not yet answered by the server.
    #[wasm_bindgen(js_name = outboxSize)]
    pub fn outbox_size(&self) -> usize {
        self.shared.borrow().machine.outbox_len()
    }

    /// Puts the indicator on the button as the settings stand (call after placing it).
    #[wasm_bindgen(js_name = refreshIndicator)]
    pub fn refresh_indicator(&self) {
        let (pending, host) = {
            let runtime = self.shared.borrow();
            (runtime.machine.settings_pending(), runtime.host.clone())
        };
        dom::show_settings_pending(pending, &host.localize(INDICATOR_LABEL_KEY));
    }

    /// Asks for an AI turn with `entries` (ChatEntry objects) as context. Resolves with
    /// the turn's request id when the server starts it; rejects with the reason when it
    /// cannot (not connected, the AI busy with another turn, the connection dropped).
    #[wasm_bindgen(js_name = takeAiTurn)]
    pub fn take_ai_turn(&self, entries: JsValue) -> Result<js_sys::Promise, JsError> {
        let messages: Vec<ChatEntry> = serde_wasm_bindgen::from_value(entries)
            .map_err(|e| JsError::new(&format!("Gold Box: invalid chat context: {e}")))?;
        let taken = self
            .shared
            .borrow_mut()
            .machine
            .take_turn(messages, now_ms());
        let (request_id, commands) = match taken {
            Ok(taken) => taken,
            Err(message) => return Ok(js_sys::Promise::reject(&JsError::new(&message).into())),
        };
        let shared = self.shared.clone();
        let id = request_id.clone();
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            shared
                .borrow_mut()
                .turns
                .insert(id.clone(), PendingTurn { resolve, reject });
        });
        execute(&self.shared, commands);
        Ok(promise)
    }
}

fn feed(shared: &Shared, input: Input) {
    let commands = shared.borrow_mut().machine.handle(input, now_ms());
    execute(shared, commands);
}

fn execute(shared: &Shared, commands: Vec<Command>) {
    for command in commands {
        match command {
            Command::OpenSocket { url } => open_socket(shared, &url),
            Command::Send(frame) => {
                let Some(text) = crate::wire::encode_client_frame(&frame) else {
                    continue;
                };
                let runtime = shared.borrow();
                let sent = runtime
                    .socket
                    .as_ref()
                    .filter(|s| s.is_open())
                    .map(|s| s.send(&text));
                if !matches!(sent, Some(Ok(()))) {
                    web_sys::console::warn_1(
                        &"Gold Box: a frame could not be sent: the socket is not open".into(),
                    );
                }
            }
            Command::CloseSocket { code, reason } => {
                let socket = shared.borrow_mut().socket.take();
                if let Some(socket) = socket {
                    socket.close(code, &reason);
                }
            }
            Command::SetTimer { kind, delay_ms } => {
                let weak = Rc::downgrade(shared);
                let fired = kind.clone();
                shared
                    .borrow_mut()
                    .timers
                    .set(kind, delay_ms, move || on_timer(&weak, fired));
            }
            Command::CancelTimer(kind) => shared.borrow_mut().timers.cancel(&kind),
            Command::Emit(event) => {
                let host = shared.borrow().host.clone();
                host.emit(&event);
            }
            Command::Roll { request_id, rolls } => {
                let host = shared.borrow().host.clone();
                let weak = Rc::downgrade(shared);
                wasm_bindgen_futures::spawn_local(async move {
                    let mut results: Vec<RollOutcome> = Vec::with_capacity(rolls.len());
                    for roll in &rolls {
                        results.push(host.roll(roll, &request_id).await);
                    }
                    if let Some(shared) = weak.upgrade() {
                        feed(
                            &shared,
                            Input::Rolled {
                                request_id,
                                results,
                            },
                        );
                    }
                });
            }
            Command::StoreOutbox(entry) => storage::store_outbox(&entry),
            Command::DeleteOutbox(request_id) => storage::delete_outbox(&request_id),
            Command::StoreSettled(marker) => storage::store_settled(&marker),
            Command::DeleteSettled(request_id) => storage::delete_settled(&request_id),
            Command::PostRollResult {
                request_id,
                url,
                token,
                body,
            } => {
                let weak = Rc::downgrade(shared);
                wasm_bindgen_futures::spawn_local(async move {
                    let body = crate::wire::encode(&body).unwrap_or_default();
                    let status = http::post_json(&url, &token, &body).await;
                    if let Some(shared) = weak.upgrade() {
                        feed(&shared, Input::Posted { request_id, status });
                    }
                });
            }
            Command::SettleTurn {
                request_id,
                outcome,
            } => {
                let pending = shared.borrow_mut().turns.remove(&request_id);
                if let Some(pending) = pending {
                    let _ = match outcome {
                        Ok(()) => pending
                            .resolve
                            .call1(&JsValue::NULL, &JsValue::from_str(&request_id)),
                        Err(message) => pending
                            .reject
                            .call1(&JsValue::NULL, &JsError::new(&message).into()),
                    };
                }
            }
            Command::ShowSettingsPending(pending) => {
                let host = shared.borrow().host.clone();
                dom::show_settings_pending(pending, &host.localize(INDICATOR_LABEL_KEY));
            }
        }
    }
}

fn on_timer(weak: &Weak<RefCell<Runtime>>, kind: TimerKind) {
    let Some(shared) = weak.upgrade() else { return };
    // Keep the fired timer alive until its callback returns.
    let _fired = shared.borrow_mut().timers.fired(&kind);
    feed(&shared, Input::Timer(kind));
}

fn open_socket(shared: &Shared, url: &str) {
    let weak = Rc::downgrade(shared);
    let on_event = move |event: SocketEvent| {
        let Some(shared) = weak.upgrade() else { return };
        let input = match event {
            SocketEvent::Open => Input::SocketOpened,
            SocketEvent::Text(text) => match crate::wire::decode_server_frame(&text) {
                Ok(frame) => Input::Frame(frame),
                Err(reason) => Input::UnreadableFrame(reason),
            },
            SocketEvent::Closed { code, reason } => {
                shared.borrow_mut().socket = None;
                Input::SocketClosed { code, reason }
            }
        };
        feed(&shared, input);
    };
    let previous = shared.borrow_mut().socket.take();
    drop(previous);
    match Socket::open(url, on_event) {
        Ok(socket) => shared.borrow_mut().socket = Some(socket),
        Err(error) => {
            web_sys::console::error_2(&"Gold Box: cannot open the WebSocket".into(), &error);
            feed(
                shared,
                Input::SocketClosed {
                    code: 1006,
                    reason: "the WebSocket could not be opened".into(),
                },
            );
        }
    }
}
