//! The core's state machine: the connection (handshake, heartbeat, reconnect with
//! backoff), the roll outbox, the settings sync and the AI turns the GM asked for.
//! It is plain Rust: [`Machine::handle`] takes an [`Input`] (frames already decoded at
//! the bindings' edge) and the wall-clock time and returns the [`Command`]s for the
//! browser, so every rule here is tested on the host.
//!
//! One `Machine` holds the state; each job keeps its rules, and its tests, in a file of
//! its own: [`connection`] (handshake, heartbeat, reconnect), [`rolls`] (the outbox and
//! settled markers), [`settings_sync`] (the debounced sync and its indicator),
//! [`turns`] (the AI turns asked for) and [`privacy`] (who sees each turn's output, fixed
//! when it is asked for). This file only dispatches.

mod connection;
mod drafts;
mod privacy;
mod rolls;
mod session;
mod settings_sync;
mod stop;
#[cfg(test)]
mod testkit;
mod turns;

use crate::backoff::{Jitter, reconnect_delay_ms};
use crate::config::{BadServerUrl, CoreConfig, http_base, websocket_url};
use crate::effects::{Command, ConnectionState, CoreEvent, Input, TimerKind};
use crate::id_map::{IdMap, IdSet};
use crate::outbox::{ACK_WAIT_MS, Outbox, OutboxEntry, Step, StoredRoll, http_status_answers};
use crate::privacy::{
    AI_MESSAGE_MODE, Audience, ContextEntry, INCLUDE_PRIVATE, TurnPrivacies, TurnPrivacy,
    left_out_note, private_allowed, select,
};
use crate::settings::{AckEffect, CONNECTION_KEYS, DEBOUNCE_MS, SettingsTracker};
use crate::settled::{Settled, SettledRoll};
use gold_box_protocol::text::{concat, push_u64};
use gold_box_protocol::{
    Ack, AiTurnComplete, ChatEntry, ChatRequest, ChatResponse, ClientFrame, ClientMessage, Connect,
    Connected, Empty, ErrorCode, ErrorData, ExecuteRoll, JsonMap, JsonValue, PROTOCOL_VERSION,
    ResumeFrom, Resumed, RollAck, RollOutcome, RollRequest, RollResult, RollResultSubmission,
    ServerFrame, ServerMessage,
};
pub use session::{MISSED_OUTPUT, ResumePoint};
pub use stop::{DEFAULT_MAX_TURN_MS, TURN_BOUND_MARGIN_MS};
pub use turns::{NOT_RECEIVED, STOPPED, TURN_ANSWER_MS};

/// Appends `n` in base 36 (digits and lower-case letters), for short ids.
fn push_base36(out: &mut String, n: u64) {
    if n >= 36 {
        push_base36(out, n / 36);
    }
    out.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
}

/// How long after a `ping` the socket is taken for dead without a `pong`.
pub const PONG_TIMEOUT_MS: u64 = 10_000;
/// The heartbeat interval used until the server says otherwise in `connected`.
pub const DEFAULT_HEARTBEAT_MS: u64 = 15_000;
/// The close code the core uses when it gives up on a silent socket.
pub const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4001;
/// The close code the core uses when it is stopped.
pub const CLOSE_NORMAL: u16 = 1000;
/// The server's close code for a connection another one took over.
pub const CLOSE_REPLACED: u16 = 4000;

/// What a roll left unmade by a page reload reports instead of rolling again.
pub const INTERRUPTED_ROLL: &str =
    "the page reloaded while this roll was being made; it was not rolled again";

/// How a turn the restarted server forgot is reported.
pub const SERVER_RESTARTED: &str = "the server restarted during this turn";

/// How a turn is reported whose request a server restarted before answering.
pub const SERVER_RESTARTED_BEFORE_ANSWER: &str =
    "the server restarted before it answered this turn's request: take the turn again";

/// What the button shows of the turns (see [`CoreEvent::Turn`]).
#[derive(Debug, Clone, PartialEq)]
struct TurnView {
    busy: bool,
    stopping: bool,
    retry: bool,
    session_usage: Option<gold_box_protocol::TokenUsage>,
}

/// What the tab's storage kept across a page reload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// Outbox entries: results not yet answered, and rolls a reload interrupted.
    pub outbox: Vec<StoredRoll>,
    /// Request ids already settled, never to be rolled again.
    pub settled: Vec<SettledRoll>,
    /// Where the session stream was left (resumable delivery).
    pub resume: Option<ResumePoint>,
}

/// The Foundry-side core.
#[derive(Debug)]
pub struct Machine {
    client_id: String,
    config: Option<CoreConfig>,
    state: ConnectionState,
    /// Reconnect attempts since the last successful handshake.
    attempt: u32,
    heartbeat_ms: u64,
    next_ping: u64,
    next_turn: u64,
    /// This page load's mark in the request ids the core makes (`turn-…`, `sync-…`), so
    /// that an id is never made twice under one client id, not even after a reload:
    /// the wall clock at the first start, and a random part.
    load_tag: String,
    jitter: Jitter,
    settings: SettingsTracker,
    outbox: Outbox,
    /// Requests being rolled now (their marker is stored, their outcome not yet), with
    /// their deadline and what was asked.
    rolling: IdMap<(u64, Vec<RollRequest>)>,
    /// Requests the server settled (answered, or past their deadline): never rolled again.
    settled: Settled,
    /// The indicator state last shown, so it is shown once per change.
    shown_pending: Option<bool>,
    /// The turn state last emitted, so it is emitted once per change.
    shown_turn: Option<TurnView>,
    /// Turns a stop was asked for, whose end has not come yet.
    stopping: IdSet,
    /// The last turn failed or timed out: offer Retry.
    retry: bool,
    /// The session's usage, as the last `ai_turn_complete` said.
    session_usage: Option<gold_box_protocol::TokenUsage>,
    /// The server's bound on a turn (`connected.max_turn_ms`).
    max_turn_ms: u64,
    /// Turns asked for whose `ai_turn_started` (or refusal) has not come yet, with the
    /// number of the connection their `chat_request` was sent on.
    awaiting_turns: IdMap<u32>,
    /// Turns started and not yet complete.
    open_turns: IdSet,
    /// Where this tab's record of the session stream ends; its `instance` is the server
    /// start the last handshake was with (`connected.instance`).
    resume: ResumePoint,
    /// Handshakes completed since this core was made (numbers the connections).
    connection: u32,
    /// Session frames of the current connection's replay still to come.
    replay_left: Option<u64>,
    /// The narration preview of each open turn that has one (see `drafts`).
    drafts: IdMap<drafts::Draft>,
    /// Who sees each turn's output, fixed when it was asked for (see [`crate::privacy`]).
    privacy: TurnPrivacies,
}

impl Machine {
    pub fn new(client_id: String, seed: u64) -> Self {
        Machine {
            client_id,
            config: None,
            state: ConnectionState::Idle,
            attempt: 0,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            next_ping: 1,
            next_turn: 1,
            load_tag: String::new(),
            jitter: Jitter::new(seed),
            settings: SettingsTracker::default(),
            outbox: Outbox::default(),
            rolling: IdMap::new(),
            settled: Settled::default(),
            shown_pending: None,
            shown_turn: None,
            stopping: IdSet::new(),
            retry: false,
            session_usage: None,
            max_turn_ms: DEFAULT_MAX_TURN_MS,
            awaiting_turns: IdMap::new(),
            open_turns: IdSet::new(),
            resume: ResumePoint::default(),
            connection: 0,
            replay_left: None,
            drafts: IdMap::new(),
            privacy: TurnPrivacies::default(),
        }
    }

    /// Whether a settings change has not reached the server yet.
    pub fn settings_pending(&self) -> bool {
        self.settings.pending()
    }

    /// Roll results stored and not yet answered by the server.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub fn state(&self) -> ConnectionState {
        self.state
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// How many of the latest chat entries a turn carries (the `contextMessages`
    /// setting, clamped; see [`crate::context`]).
    pub fn context_window(&self) -> usize {
        crate::context::window(self.settings.value("contextMessages"))
    }

    /// Settled markers held (see [`crate::settled`]).
    pub fn settled_len(&self) -> usize {
        self.settled.len()
    }

    /// Starts (or restarts, with new settings) the connection. `stored` is what browser
    /// storage kept across a reload.
    pub fn start(
        &mut self,
        config: CoreConfig,
        stored: Restored,
        now_ms: u64,
    ) -> Result<Vec<Command>, BadServerUrl> {
        let url = websocket_url(&config.server_url)?;
        let mut commands = self.stop_connection();
        self.settings = SettingsTracker::initial(config.settings.clone());
        self.config = Some(config);
        self.attempt = 0;
        if self.load_tag.is_empty() {
            let random = (self.jitter.next_unit() * 46_656.0) as u64; // 36^3
            let mut tag = String::new();
            push_base36(&mut tag, now_ms);
            push_base36(&mut tag, random);
            self.load_tag = tag;
        }
        if let Some(point) = stored.resume {
            self.resume = point;
        }
        for marker in stored.settled {
            self.settled.insert(marker);
        }
        self.prune_settled(now_ms, &mut commands);
        for roll in stored.outbox {
            self.restore(roll, now_ms, &mut commands);
        }
        commands.push(Command::OpenSocket { url });
        self.set_state(ConnectionState::Connecting, None, &mut commands);
        Ok(commands)
    }

    /// Closes the connection and cancels every timer.
    /// The configuration is kept: results already rolled are still delivered over HTTP.
    pub fn stop(&mut self) -> Vec<Command> {
        let mut commands = self.stop_connection();
        // Nothing will answer them now: the promises are rejected rather than left open.
        for request_id in std::mem::take(&mut self.awaiting_turns).into_keys() {
            commands.push(Command::SettleTurn {
                request_id,
                outcome: Err(STOPPED.into()),
            });
        }
        self.set_state(ConnectionState::Idle, None, &mut commands);
        self.show_turn(&mut commands);
        commands
    }

    pub fn handle(&mut self, input: Input, now_ms: u64) -> Vec<Command> {
        let mut commands = Vec::new();
        match input {
            Input::SocketOpened => self.on_open(&mut commands),
            Input::Frame(frame) => self.on_frame(frame, now_ms, &mut commands),
            Input::UnreadableFrame(reason) => self.on_unreadable_frame(reason, &mut commands),
            Input::SocketClosed { code, reason } => self.on_closed(code, reason, &mut commands),
            Input::Timer(kind) => self.on_timer(kind, now_ms, &mut commands),
            Input::SettingChanged { key, value } => {
                self.on_setting_changed(key, value, now_ms, &mut commands)
            }
            Input::Rolled {
                request_id,
                results,
            } => self.on_rolled(request_id, results, now_ms, &mut commands),
            Input::Posted { request_id, status } => {
                self.on_posted(&request_id, status, now_ms, &mut commands)
            }
        }
        self.show_turn(&mut commands);
        commands
    }

    pub(super) fn stop_connection(&mut self) -> Vec<Command> {
        let mut commands = vec![
            Command::CancelTimer(TimerKind::Reconnect),
            Command::CancelTimer(TimerKind::Heartbeat),
            Command::CancelTimer(TimerKind::PongDeadline),
            Command::CloseSocket {
                code: CLOSE_NORMAL,
                reason: "stopped".into(),
            },
        ];
        // A socket closed by us reports nothing: what waited on it moves on now.
        self.socket_lost(&mut commands);
        commands
    }

    pub(super) fn set_state(
        &mut self,
        state: ConnectionState,
        detail: Option<String>,
        commands: &mut Vec<Command>,
    ) {
        if self.state != state || detail.is_some() {
            self.state = state;
            commands.push(Command::Emit(CoreEvent::State { state, detail }));
        }
    }

    pub(super) fn send(&self, frame: ClientFrame, commands: &mut Vec<Command>) {
        commands.push(Command::Send(frame));
    }

    /// A decoded frame: a session frame (numbered `seq`) goes through resumable delivery
    /// first; the others go straight to their job.
    pub(super) fn on_frame(
        &mut self,
        frame: ServerFrame,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        match frame.seq {
            Some(seq) => self.on_session_frame(seq, frame, now_ms, commands),
            None => self.dispatch(frame, now_ms, commands),
        }
    }

    /// Hands a frame to the job it belongs to.
    pub(super) fn dispatch(
        &mut self,
        frame: ServerFrame,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        let request_id = frame.request_id;
        match frame.message {
            ServerMessage::Connected(connected) => self.on_connected(connected, now_ms, commands),
            ServerMessage::Pong(_) => commands.push(Command::CancelTimer(TimerKind::PongDeadline)),
            ServerMessage::Error(error) if self.state == ConnectionState::Connecting => {
                self.on_handshake_refused(error, commands)
            }
            ServerMessage::Error(error) => self.on_server_error(request_id, error, commands),
            ServerMessage::AiTurnStarted(_) => self.on_turn_started(request_id, commands),
            ServerMessage::ChatResponse(response) => {
                self.on_chat_response(request_id, response, commands)
            }
            ServerMessage::AiTurnComplete(done) => {
                self.on_turn_complete(request_id, done, commands)
            }
            ServerMessage::ExecuteRoll(request) => {
                if let Some(request_id) = request_id {
                    self.on_execute_roll(request_id, request, now_ms, commands);
                }
            }
            ServerMessage::RollAck(ack) => {
                if let Some(request_id) = request_id {
                    self.on_roll_ack(&request_id, ack, now_ms, commands);
                }
            }
            ServerMessage::SettingsAck(ack) => self.on_settings_ack(ack.revision, now_ms, commands),
            ServerMessage::RollCancelled(_) => {
                if let Some(request_id) = request_id {
                    self.on_roll_cancelled(request_id, commands);
                }
            }
            ServerMessage::NarrationDelta(delta) => {
                self.on_narration_delta(request_id, delta, commands)
            }
        }
    }

    /// A frame the bindings could not decode: reported, and nothing else changes.
    pub(super) fn on_unreadable_frame(&mut self, reason: String, commands: &mut Vec<Command>) {
        commands.push(Command::Emit(CoreEvent::Error {
            code: ErrorCode::InvalidMessage,
            message: concat(&["the server sent a frame this module cannot read: ", &reason]),
            request_id: None,
        }));
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind, now_ms: u64, commands: &mut Vec<Command>) {
        match kind {
            TimerKind::Reconnect => {
                if self.state != ConnectionState::Reconnecting {
                    return;
                }
                let Some(config) = &self.config else { return };
                if let Ok(url) = websocket_url(&config.server_url) {
                    commands.push(Command::OpenSocket { url });
                    self.set_state(ConnectionState::Connecting, None, commands);
                }
            }
            TimerKind::Heartbeat if self.state == ConnectionState::Connected => {
                let mut request_id = String::from("ping-");
                push_u64(&mut request_id, self.next_ping);
                self.next_ping += 1;
                self.send(
                    ClientFrame::new(ClientMessage::Ping(Empty {})).with_request_id(request_id),
                    commands,
                );
                commands.push(Command::SetTimer {
                    kind: TimerKind::PongDeadline,
                    delay_ms: PONG_TIMEOUT_MS,
                });
                commands.push(Command::SetTimer {
                    kind: TimerKind::Heartbeat,
                    delay_ms: self.heartbeat_ms,
                });
            }
            TimerKind::Heartbeat => {}
            TimerKind::PongDeadline => {
                commands.push(Command::CloseSocket {
                    code: CLOSE_HEARTBEAT_TIMEOUT,
                    reason: "no pong in time".into(),
                });
                commands.push(Command::CancelTimer(TimerKind::Heartbeat));
                self.socket_lost(commands);
                self.schedule_reconnect(commands);
            }
            TimerKind::SettingsDebounce => self.sync_settings(now_ms, commands),
            TimerKind::RollDelivery(request_id) => {
                let step = self
                    .outbox
                    .on_timer(&request_id, self.state == ConnectionState::Connected);
                self.deliver(&request_id, step, commands);
            }
            TimerKind::TurnAnswer(request_id) => self.on_turn_answer_bound(request_id, commands),
            TimerKind::TurnBound(request_id) => self.on_turn_bound(request_id, commands),
            TimerKind::RollDeadline(request_id) => self.settle_roll(&request_id, commands),
        }
    }

    /// The socket is gone: results waiting on it go over HTTP. Turns asked for stay
    /// pending: with resumable delivery their answer comes in the replay after the
    /// reconnect, or the replay shows the server never got them (see [`session`]), or
    /// their bound ends the wait.
    pub(super) fn socket_lost(&mut self, commands: &mut Vec<Command>) {
        self.replay_left = None;
        for (request_id, step) in self.outbox.on_socket_closed() {
            self.deliver(&request_id, step, commands);
        }
    }
}
