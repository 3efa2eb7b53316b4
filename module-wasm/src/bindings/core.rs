//! `GoldBoxCore`, the class the JS module constructs: it owns the state machine and the
//! browser objects that carry out its commands, and turns browser events into inputs.
//!
//! The runtime sits in an `Rc<RefCell<_>>`; every callback holds only a `Weak` to it,
//! so dropping the core (JS `free()`) drops the socket, the timers and the futures it
//! spawned (a roll loop stops, a POST is aborted) and rejects the `takeAiTurn` promises
//! still pending.
//!
//! Two rules keep JavaScript from re-entering a half-done step:
//! - No `RefCell` borrow is held while calling into JavaScript: what a call needs is
//!   taken out under a short borrow, the borrow ends, then the call is made.
//! - The commands an input produces go into one queue, drained by one loop. A listener
//!   that calls back into the core while the loop runs (an event handler that asks for a
//!   turn) only adds to the queue, so commands run in the order the machine produced them.

use super::host::Host;
use super::http;
use super::js_json;
use super::socket::{Socket, SocketEvent};
use super::storage;
use super::tasks::Tasks;
use super::timers::{Timeout, Timers};
use crate::config::CoreConfig;
use crate::effects::{Command, Input, TimerKind};
use crate::id_map::IdMap;
use crate::machine::{Machine, Restored};
use crate::privacy::ContextEntry;
use gold_box_protocol::json::FromJson;
use gold_box_protocol::text::concat;
use gold_box_protocol::{ChatEntry, RollOutcome};
use std::cell::{Ref, RefCell, RefMut};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// How a `takeAiTurn` promise still pending is rejected when the core is dropped.
const CORE_DROPPED: &str = "the Gold Box core was shut down before the server answered";

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
    tasks: Tasks,
    turns: IdMap<PendingTurn>,
    /// Commands waiting to run, in the order the machine produced them.
    queue: VecDeque<Command>,
    /// Whether a loop is draining `queue` (a re-entrant call only adds to it).
    draining: bool,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // The RefCell is going away: no borrow of it can be held here.
        for turn in std::mem::take(&mut self.turns).into_values() {
            let _ = turn
                .reject
                .call1(&JsValue::NULL, &JsError::new(CORE_DROPPED).into());
        }
    }
}

type Shared = Rc<RefCell<Runtime>>;

/// The runtime, borrowed mutably; [`read`] borrows it to read. Every borrow goes through
/// these two: each direct `borrow_mut()` call site passed its own panic location (16
/// bytes of .wasm data and the code to pass it). A borrow that fails (a bug: no borrow
/// is held across a call into JavaScript) still panics, reported at this line.
#[inline(never)]
fn write(shared: &Shared) -> RefMut<'_, Runtime> {
    shared.borrow_mut()
}

/// The runtime, borrowed to read (see [`write`]).
#[inline(never)]
fn read(shared: &Shared) -> Ref<'_, Runtime> {
    shared.borrow()
}

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
        let machine = Machine::new(String::new(), random_seed());
        GoldBoxCore {
            shared: Rc::new(RefCell::new(Runtime {
                machine,
                host,
                socket: None,
                timers: Timers::default(),
                tasks: Tasks::default(),
                turns: IdMap::new(),
                queue: VecDeque::new(),
                draining: false,
            })),
        }
    }

    /// Connects with `config` (`{serverUrl, token, world, user, settings}`); calling it
    /// again reconnects with the new configuration. Roll results stored before a page
    /// reload are delivered.
    pub fn start(&self, config: JsValue) -> Result<(), JsError> {
        let config = js_json::from_js(&config)
            .and_then(|config| CoreConfig::from_json(&config).map_err(|e| e.message()))
            .map_err(|e| JsError::new(&concat(&["Gold Box: invalid configuration: ", &e])))?;
        // Everything that reads the browser is read before the runtime is borrowed.
        let client_id = storage::client_id(&config.user.id);
        let seed = random_seed();
        let stored = Restored {
            outbox: storage::load_outbox(),
            settled: storage::load_settled(),
            resume: storage::load_resume(),
        };
        let now = now_ms();
        let started = {
            let mut runtime = write(&self.shared);
            if runtime.machine.client_id() != client_id {
                runtime.machine = Machine::new(client_id, seed);
            }
            runtime.machine.start(config, stored, now)
        };
        let commands = started.map_err(|e| JsError::new(&e.message()))?;
        run(&self.shared, commands);
        Ok(())
    }

    /// Closes the connection and cancels every timer.
    pub fn stop(&self) {
        let commands = write(&self.shared).machine.stop();
        run(&self.shared, commands);
    }

    /// The connection state: `idle`, `connecting`, `connected`, `reconnecting`,
    /// `auth_failed`, `incompatible` or `replaced`.
    pub fn state(&self) -> String {
        read(&self.shared).machine.state().as_str().to_owned()
    }

    /// This browser tab's client id (`gb-<userId>-<random>`).
    #[wasm_bindgen(js_name = clientId)]
    pub fn client_id(&self) -> String {
        read(&self.shared).machine.client_id().to_owned()
    }

    /// A Gold Box setting changed: the server URL and token reconnect; any other setting
    /// shows the pending indicator and is synced after a quiet second.
    #[wasm_bindgen(js_name = settingChanged)]
    pub fn setting_changed(&self, key: String, value: JsValue) -> Result<(), JsError> {
        let value = js_json::from_js(&value).map_err(|e| {
            JsError::new(&concat(&[
                "Gold Box: setting `",
                &key,
                "` has a value that is not JSON: ",
                &e,
            ]))
        })?;
        feed(&self.shared, Input::SettingChanged { key, value });
        Ok(())
    }

    /// Whether a settings change has not reached the server yet.
    #[wasm_bindgen(js_name = settingsPending)]
    pub fn settings_pending(&self) -> bool {
        read(&self.shared).machine.settings_pending()
    }

    /// Roll results stored and not yet answered by the server.
    #[wasm_bindgen(js_name = outboxSize)]
    pub fn outbox_size(&self) -> usize {
        read(&self.shared).machine.outbox_len()
    }

    /// How many of the latest chat messages `takeAiTurn` should be given: the
    /// `contextMessages` setting (clamped), with room for private messages the core may
    /// leave out. The core filters, cuts and budgets what it gets.
    #[wasm_bindgen(js_name = contextScan)]
    pub fn context_scan(&self) -> usize {
        read(&self.shared).machine.context_scan()
    }

    /// Futures the core has running (roll loops, fallback POSTs).
    #[wasm_bindgen(js_name = runningTasks)]
    pub fn running_tasks(&self) -> usize {
        read(&self.shared).tasks.len()
    }

    /// Stops the AI turn under way (the Stop button): the server drops it and it ends
    /// as `cancelled`. Safe at any time; a second call, or one with no turn, does nothing.
    #[wasm_bindgen(js_name = cancelTurn)]
    pub fn cancel_turn(&self) {
        let commands = write(&self.shared).machine.cancel_turn(now_ms());
        run(&self.shared, commands);
    }

    /// Asks for an AI turn with `entries` as context: ChatEntry objects, oldest first, each
    /// with `visibility: "public"` when every player can see it (anything else counts as
    /// private). The core decides what the AI may read and who sees the turn's output.
    /// Resolves with the turn's request id when the server starts it; rejects with the
    /// reason when it cannot (not connected, the AI busy with another turn, no answer in
    /// time, the core stopped).
    #[wasm_bindgen(js_name = takeAiTurn)]
    pub fn take_ai_turn(&self, entries: JsValue) -> Result<js_sys::Promise, JsError> {
        let chat = context_entries(entries)?;
        let now = now_ms();
        let taken = write(&self.shared).machine.take_turn(chat, now);
        let (request_id, commands) = match taken {
            Ok(taken) => taken,
            Err(message) => return Ok(js_sys::Promise::reject(&JsError::new(&message).into())),
        };
        let mut settle = None;
        // The executor runs synchronously, before `Promise::new` returns.
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            settle = Some(PendingTurn { resolve, reject });
        });
        if let Some(pending) = settle {
            write(&self.shared).turns.insert(request_id, pending);
        }
        run(&self.shared, commands);
        Ok(promise)
    }

    /// Asks the server to write `turn`'s narration again with the GM's `note` (GM review;
    /// no die is rolled again). Settles like `takeAiTurn`: resolves with the regeneration's
    /// own request id when the server starts it, rejects with the reason otherwise.
    #[wasm_bindgen(js_name = regenerateNarration)]
    pub fn regenerate_narration(
        &self,
        turn: String,
        note: Option<String>,
    ) -> Result<js_sys::Promise, JsError> {
        let now = now_ms();
        let taken = write(&self.shared).machine.regenerate(turn, note, now);
        let (request_id, commands) = match taken {
            Ok(taken) => taken,
            Err(message) => return Ok(js_sys::Promise::reject(&JsError::new(&message).into())),
        };
        let mut settle = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            settle = Some(PendingTurn { resolve, reject });
        });
        if let Some(pending) = settle {
            write(&self.shared).turns.insert(request_id, pending);
        }
        run(&self.shared, commands);
        Ok(promise)
    }

    /// Tells the server the GM discarded `turn`'s narration.
    #[wasm_bindgen(js_name = discardNarration)]
    pub fn discard_narration(&self, turn: String) {
        let commands = write(&self.shared).machine.discard(turn);
        run(&self.shared, commands);
    }
}

/// The chat `takeAiTurn` is given: each entry read as a ChatEntry, and its `visibility`
/// marker read beside it (no type of its own at the edge).
fn context_entries(entries: JsValue) -> Result<Vec<ContextEntry>, JsError> {
    if !js_sys::Array::is_array(&entries) {
        return Err(JsError::new("Gold Box: invalid chat context: not an array"));
    }
    let marker = JsValue::from_str("visibility");
    let items = js_sys::Array::from(&entries);
    // A plain loop: `collect` into a `Result` is several generic adapters (about 1 KB of
    // .wasm for this one).
    let mut read = Vec::with_capacity(items.length() as usize);
    for item in items.iter() {
        let seen_by_all = js_sys::Reflect::get(&item, &marker)
            .ok()
            .and_then(|v| v.as_string())
            .is_some_and(|v| v == "public");
        let entry = js_json::from_js(&item)
            .and_then(|entry| ChatEntry::from_json(&entry).map_err(|e| e.message()))
            .map_err(|e| JsError::new(&concat(&["Gold Box: invalid chat context: ", &e])))?;
        read.push(ContextEntry { entry, seen_by_all });
    }
    Ok(read)
}

fn feed(shared: &Shared, input: Input) {
    let now = now_ms();
    let commands = write(shared).machine.handle(input, now);
    run(shared, commands);
}

/// Queues `commands` and, unless a loop is already draining the queue further up the
/// stack, drains it: one command at a time, no borrow held while each runs.
fn run(shared: &Shared, commands: Vec<Command>) {
    {
        let mut runtime = write(shared);
        for command in commands {
            runtime.queue.push_back(command);
        }
        if runtime.draining {
            return;
        }
        runtime.draining = true;
    }
    loop {
        let next = {
            let mut runtime = write(shared);
            let next = runtime.queue.pop_front();
            if next.is_none() {
                runtime.draining = false;
            }
            next
        };
        match next {
            Some(command) => execute(shared, command),
            None => break,
        }
    }
}

/// Carries out one command. Whatever calls into JavaScript does so with no borrow held.
fn execute(shared: &Shared, command: Command) {
    match command {
        Command::OpenSocket { url } => open_socket(shared, &url),
        Command::Send(frame) => {
            let text = crate::wire::encode_client_frame(&frame);
            let ws = read(shared).socket.as_ref().map(Socket::handle);
            let sent = ws
                .filter(|ws| ws.ready_state() == web_sys::WebSocket::OPEN)
                .map(|ws| ws.send_with_str(&text));
            if !matches!(sent, Some(Ok(()))) {
                web_sys::console::warn_1(
                    &"Gold Box: a frame could not be sent: the socket is not open".into(),
                );
            }
        }
        Command::CloseSocket { code, reason } => {
            let socket = write(shared).socket.take();
            if let Some(socket) = socket {
                socket.close(code, &reason);
            }
        }
        Command::SetTimer { kind, delay_ms } => {
            let weak = Rc::downgrade(shared);
            let fired = kind.clone();
            let delay = u32::try_from(delay_ms).unwrap_or(u32::MAX);
            let timeout = Timeout::new(delay, move || on_timer(&weak, fired));
            let replaced = write(shared).timers.put(kind, timeout);
            drop(replaced);
        }
        Command::CancelTimer(kind) => {
            let cancelled = write(shared).timers.take(&kind);
            drop(cancelled);
        }
        Command::Emit(event) => {
            let host = read(shared).host.clone();
            host.emit(&event);
        }
        Command::Roll {
            request_id,
            rolls,
            audience,
        } => {
            let host = read(shared).host.clone();
            let (task, cancel) = write(shared).tasks.register(None);
            let weak = Rc::downgrade(shared);
            wasm_bindgen_futures::spawn_local(async move {
                let mut results: Vec<RollOutcome> = Vec::with_capacity(rolls.len());
                for roll in &rolls {
                    // A core that is gone asks Foundry for no further dice.
                    if cancel.is_cancelled() {
                        return;
                    }
                    results.push(host.roll(roll, &request_id, audience.as_str()).await);
                }
                if cancel.is_cancelled() {
                    return;
                }
                if let Some(shared) = weak.upgrade() {
                    let finished = write(&shared).tasks.finish(task);
                    drop(finished);
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
        Command::Debug(line) => web_sys::console::debug_1(&line.into()),
        Command::StoreOutbox(entry) => storage::store_outbox(&entry),
        Command::DeleteOutbox(request_id) => storage::delete_outbox(&request_id),
        Command::StoreSettled(marker) => storage::store_settled(&marker),
        Command::DeleteSettled(request_id) => storage::delete_settled(&request_id),
        Command::StoreResume(point) => storage::store_resume(&point),
        Command::PostRollResult {
            request_id,
            url,
            token,
            body,
        } => {
            let body = crate::wire::encode(&body);
            let controller = web_sys::AbortController::new().ok();
            let signal = controller.as_ref().map(|c| c.signal());
            let (task, cancel) = write(shared).tasks.register(controller);
            let weak = Rc::downgrade(shared);
            wasm_bindgen_futures::spawn_local(async move {
                let status = match &signal {
                    Some(signal) => http::post_json(&url, &token, &body, signal).await,
                    None => None,
                };
                if cancel.is_cancelled() {
                    return;
                }
                if let Some(shared) = weak.upgrade() {
                    let finished = write(&shared).tasks.finish(task);
                    drop(finished);
                    feed(&shared, Input::Posted { request_id, status });
                }
            });
        }
        Command::SettleTurn {
            request_id,
            outcome,
        } => {
            let pending = write(shared).turns.remove(&request_id);
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
    }
}

fn on_timer(weak: &Weak<RefCell<Runtime>>, kind: TimerKind) {
    let Some(shared) = weak.upgrade() else { return };
    // Forget the fired timer; it is dropped (a no-op `clearTimeout`) after the borrow.
    let fired = write(&shared).timers.take(&kind);
    drop(fired);
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
                let closed = write(&shared).socket.take();
                drop(closed);
                Input::SocketClosed { code, reason }
            }
        };
        feed(&shared, input);
    };
    let previous = write(shared).socket.take();
    drop(previous);
    match Socket::open(url, on_event) {
        Ok(socket) => {
            let replaced = write(shared).socket.replace(socket);
            drop(replaced);
        }
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
