//! `GoldBoxCore`, the class the JS module constructs: it owns the state machine and the
//! browser objects that carry out its commands, and turns browser events into inputs.
//!
//! The runtime sits in an `Rc<RefCell<_>>`; every callback holds only a `Weak` to it,
//! so dropping the core (JS `free()`) drops the socket and the timers with it. No borrow
//! is held while calling into JS, so a listener may call back into the core.

use super::host::Host;
use super::socket::{Socket, SocketEvent};
use super::storage;
use super::timers::Timers;
use crate::config::CoreConfig;
use crate::effects::{Command, Input, TimerKind};
use crate::machine::Machine;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

#[derive(Debug)]
struct Runtime {
    machine: Machine,
    host: Host,
    socket: Option<Socket>,
    timers: Timers,
}

type Shared = Rc<RefCell<Runtime>>;

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
        let seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
        GoldBoxCore {
            shared: Rc::new(RefCell::new(Runtime {
                machine: Machine::new(String::new(), seed),
                host,
                socket: None,
                timers: Timers::default(),
            })),
        }
    }

    /// Connects with `config` (`{serverUrl, token, world, user}`); calling it again
    /// reconnects with the new configuration.
    pub fn start(&self, config: JsValue) -> Result<(), JsError> {
        let config: CoreConfig = serde_wasm_bindgen::from_value(config)
            .map_err(|e| JsError::new(&format!("Gold Box: invalid configuration: {e}")))?;
        let client_id = storage::client_id(&config.user.id);
        let commands = {
            let mut runtime = self.shared.borrow_mut();
            if runtime.machine.client_id() != client_id {
                let seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
                runtime.machine = Machine::new(client_id, seed);
            }
            runtime
                .machine
                .start(config)
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
}

fn feed(shared: &Shared, input: Input) {
    let commands = shared.borrow_mut().machine.handle(input);
    execute(shared, commands);
}

fn execute(shared: &Shared, commands: Vec<Command>) {
    for command in commands {
        match command {
            Command::OpenSocket { url } => open_socket(shared, &url),
            Command::Send(text) => {
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
            SocketEvent::Text(text) => Input::SocketText(text),
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
