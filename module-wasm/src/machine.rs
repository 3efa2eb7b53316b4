//! The core's state machine: the connection (handshake, heartbeat, reconnect with
//! backoff), the roll outbox, the settings sync and the AI turns the GM asked for.
//! It is plain Rust: [`Machine::handle`] takes an [`Input`] and the wall-clock time and
//! returns the [`Command`]s for the browser, so every rule here is tested on the host.

use crate::backoff::{Jitter, reconnect_delay_ms};
use crate::config::{BadServerUrl, CoreConfig, http_base, websocket_url};
use crate::effects::{Command, ConnectionState, CoreEvent, Input, TimerKind};
use crate::outbox::{ACK_WAIT_MS, Outbox, OutboxEntry, Step, StoredRoll, http_status_answers};
use crate::settings::{AckEffect, CONNECTION_KEYS, DEBOUNCE_MS, SettingsTracker};
use crate::settled::{Settled, SettledRoll};
use gold_box_protocol::{
    ChatEntry, ChatRequest, ClientFrame, ClientMessage, Connect, Empty, ErrorCode, ExecuteRoll,
    JsonValue, PROTOCOL_VERSION, RawFrame, RollAck, RollOutcome, RollRequest, RollResult,
    RollResultSubmission, ServerFrame, ServerMessage,
};
use std::collections::{BTreeMap, BTreeSet};

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

/// What the tab's storage kept across a page reload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// Outbox entries: results not yet answered, and rolls a reload interrupted.
    pub outbox: Vec<StoredRoll>,
    /// Request ids already settled, never to be rolled again.
    pub settled: Vec<SettledRoll>,
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
    jitter: Jitter,
    settings: SettingsTracker,
    outbox: Outbox,
    /// Requests being rolled now (their marker is stored, their outcome not yet), with
    /// their deadline and what was asked.
    rolling: BTreeMap<String, (u64, Vec<RollRequest>)>,
    /// Requests the server settled (answered, or past their deadline): never rolled again.
    settled: Settled,
    /// The indicator state last shown, so it is shown once per change.
    shown_pending: Option<bool>,
    /// Turns asked for whose `ai_turn_started` (or refusal) has not come yet.
    awaiting_turns: BTreeSet<String>,
    /// Turns started and not yet complete.
    open_turns: BTreeSet<String>,
    /// The server start the last handshake was with (`connected.instance`).
    server_instance: Option<String>,
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
            jitter: Jitter::new(seed),
            settings: SettingsTracker::default(),
            outbox: Outbox::default(),
            rolling: BTreeMap::new(),
            settled: Settled::default(),
            shown_pending: None,
            awaiting_turns: BTreeSet::new(),
            open_turns: BTreeSet::new(),
            server_instance: None,
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
        for marker in stored.settled {
            self.settled.insert(marker);
        }
        commands.extend(
            self.settled
                .prune(now_ms)
                .into_iter()
                .map(Command::DeleteSettled),
        );
        for roll in stored.outbox {
            self.restore(roll, now_ms, &mut commands);
        }
        commands.push(Command::OpenSocket { url });
        self.set_state(ConnectionState::Connecting, None, &mut commands);
        Ok(commands)
    }

    /// Puts a stored outcome back into the outbox; a roll the reload interrupted is
    /// reported as not made rather than rolled again.
    fn restore(&mut self, stored: StoredRoll, now_ms: u64, commands: &mut Vec<Command>) {
        let request_id = stored.request_id.clone();
        if stored.deadline_ms <= now_ms {
            // Past its deadline: settled, never rolled again, and no longer delivered.
            let marker = SettledRoll::new(request_id.clone(), stored.deadline_ms, stored.results);
            if marker.keep_until_ms > now_ms && self.settled.get(&request_id).is_none() {
                commands.push(Command::StoreSettled(marker.clone()));
                self.settled.insert(marker);
            }
            commands.push(Command::DeleteOutbox(request_id));
            return;
        }
        let Some(results) = stored.results else {
            let results: Vec<RollOutcome> = stored
                .rolls
                .iter()
                .map(|roll| RollOutcome {
                    formula: roll.formula.clone(),
                    flavor: roll.flavor.clone(),
                    total: None,
                    dice: Vec::new(),
                    error: Some(INTERRUPTED_ROLL.into()),
                })
                .collect();
            let interrupted = StoredRoll {
                results: Some(results),
                ..stored
            };
            return self.restore(interrupted, now_ms, commands);
        };
        let entry = OutboxEntry {
            request_id,
            results,
            deadline_ms: stored.deadline_ms,
        };
        // Stored again: an interrupted roll now has its error outcomes on record.
        commands.push(Command::StoreOutbox(StoredRoll {
            request_id: entry.request_id.clone(),
            deadline_ms: entry.deadline_ms,
            rolls: stored.rolls,
            results: Some(entry.results.clone()),
        }));
        self.add_to_outbox(entry, now_ms, commands);
    }

    /// Closes the connection and cancels every timer.
    /// The configuration is kept: results already rolled are still delivered over HTTP.
    pub fn stop(&mut self) -> Vec<Command> {
        let mut commands = self.stop_connection();
        self.set_state(ConnectionState::Idle, None, &mut commands);
        commands
    }

    pub fn handle(&mut self, input: Input, now_ms: u64) -> Vec<Command> {
        let mut commands = Vec::new();
        match input {
            Input::SocketOpened => self.on_open(&mut commands),
            Input::SocketText(text) => self.on_text(&text, now_ms, &mut commands),
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
        commands
    }

    /// Asks for an AI turn with this chat as context. A pending settings change is synced
    /// first, on the same socket, so the server applies it before the turn starts.
    pub fn take_turn(
        &mut self,
        messages: Vec<ChatEntry>,
        now_ms: u64,
    ) -> Result<(String, Vec<Command>), String> {
        if self.state != ConnectionState::Connected {
            return Err("Gold Box is not connected to its server".into());
        }
        let mut commands = Vec::new();
        if self.settings.dirty() {
            commands.push(Command::CancelTimer(TimerKind::SettingsDebounce));
            self.sync_settings(now_ms, &mut commands);
        }
        let request_id = format!("turn-{}-{}", self.client_id, self.next_turn);
        self.next_turn += 1;
        let request = ChatRequest {
            messages,
            settings_revision: self.settings.revision(),
        };
        self.send(
            ClientFrame::new(ClientMessage::ChatRequest(request))
                .with_request_id(request_id.clone())
                .with_timestamp(now_ms),
            &mut commands,
        );
        self.awaiting_turns.insert(request_id.clone());
        Ok((request_id, commands))
    }

    fn stop_connection(&mut self) -> Vec<Command> {
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

    fn set_state(
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

    fn send(&self, frame: ClientFrame, commands: &mut Vec<Command>) {
        // Our own frames always serialize; a failure would be a bug in the protocol types.
        if let Ok(text) = serde_json::to_string(&frame) {
            commands.push(Command::Send(text));
        }
    }

    fn on_open(&mut self, commands: &mut Vec<Command>) {
        let Some(config) = &self.config else { return };
        let connect = ClientMessage::Connect(Connect {
            client_id: self.client_id.clone(),
            token: config.token.clone(),
            protocol: PROTOCOL_VERSION,
            world: config.world.clone(),
            user: config.user.clone(),
            resume: None,
        });
        self.send(ClientFrame::new(connect), commands);
    }

    fn on_text(&mut self, text: &str, now_ms: u64, commands: &mut Vec<Command>) {
        let frame = match decode(text) {
            Ok(frame) => frame,
            Err(reason) => {
                commands.push(Command::Emit(CoreEvent::Error {
                    code: ErrorCode::InvalidMessage,
                    message: format!("the server sent a frame this module cannot read: {reason}"),
                    request_id: None,
                }));
                return;
            }
        };
        match frame.message {
            ServerMessage::Connected(connected) => {
                self.attempt = 0;
                self.note_server_instance(connected.instance, commands);
                self.heartbeat_ms = connected.heartbeat_ms.max(1_000);
                commands.push(Command::SetTimer {
                    kind: TimerKind::Heartbeat,
                    delay_ms: self.heartbeat_ms,
                });
                self.set_state(ConnectionState::Connected, None, commands);
                if self.settings.dirty() {
                    commands.push(Command::CancelTimer(TimerKind::SettingsDebounce));
                    self.sync_settings(now_ms, commands);
                }
                for request_id in self.outbox.on_connected() {
                    self.deliver(&request_id, Step::SendFrame, commands);
                }
            }
            ServerMessage::Pong(_) => commands.push(Command::CancelTimer(TimerKind::PongDeadline)),
            ServerMessage::Error(error) if self.state == ConnectionState::Connecting => {
                let state = match error.code {
                    ErrorCode::AuthFailed => ConnectionState::AuthFailed,
                    ErrorCode::ProtocolUnsupported => ConnectionState::Incompatible,
                    _ => ConnectionState::Connecting,
                };
                self.set_state(state, Some(error.message), commands);
            }
            ServerMessage::Error(error) => match frame.request_id {
                Some(request_id) if self.awaiting_turns.remove(&request_id) => {
                    commands.push(Command::SettleTurn {
                        request_id,
                        outcome: Err(error.message),
                    });
                }
                request_id => commands.push(Command::Emit(CoreEvent::Error {
                    code: error.code,
                    message: error.message,
                    request_id,
                })),
            },
            ServerMessage::AiTurnStarted(_) => {
                if let Some(request_id) = frame.request_id {
                    self.open_turns.insert(request_id.clone());
                    if self.awaiting_turns.remove(&request_id) {
                        commands.push(Command::SettleTurn {
                            request_id: request_id.clone(),
                            outcome: Ok(()),
                        });
                    }
                    commands.push(Command::Emit(CoreEvent::TurnStarted { request_id }));
                }
            }
            ServerMessage::ChatResponse(response) => {
                if let Some(request_id) = frame.request_id {
                    commands.push(Command::Emit(CoreEvent::ChatResponse {
                        request_id,
                        message: response.message,
                    }));
                }
            }
            ServerMessage::AiTurnComplete(done) => {
                if let Some(request_id) = frame.request_id {
                    self.open_turns.remove(&request_id);
                    commands.push(Command::Emit(CoreEvent::TurnComplete {
                        request_id,
                        status: done.status,
                        error: done.error,
                        iterations: done.iterations,
                        duration_ms: done.duration_ms,
                    }));
                }
            }
            ServerMessage::ExecuteRoll(request) => {
                if let Some(request_id) = frame.request_id {
                    self.on_execute_roll(request_id, request, now_ms, commands);
                }
            }
            ServerMessage::RollAck(ack) => {
                if let Some(request_id) = frame.request_id {
                    self.on_roll_ack(&request_id, ack, now_ms, commands);
                }
            }
            ServerMessage::SettingsAck(ack) => match self.settings.on_ack(ack.revision) {
                AckEffect::Settled => self.show_pending(commands),
                AckEffect::StillPending => {}
                AckEffect::ResyncNow => self.sync_settings(now_ms, commands),
            },
        }
    }

    /// A server that restarted has forgotten the turns it was running: they are reported
    /// as failed rather than waited on for ever.
    fn note_server_instance(&mut self, instance: Option<String>, commands: &mut Vec<Command>) {
        let restarted =
            matches!((&self.server_instance, &instance), (Some(old), Some(new)) if old != new);
        if restarted {
            for request_id in std::mem::take(&mut self.open_turns) {
                commands.push(Command::Emit(CoreEvent::TurnComplete {
                    request_id,
                    status: gold_box_protocol::TurnStatus::Failed,
                    error: Some(SERVER_RESTARTED.into()),
                    iterations: 0,
                    duration_ms: 0,
                }));
            }
        }
        if instance.is_some() {
            self.server_instance = instance;
        }
    }

    fn on_execute_roll(
        &mut self,
        request_id: String,
        request: ExecuteRoll,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        commands.extend(
            self.settled
                .prune(now_ms)
                .into_iter()
                .map(Command::DeleteSettled),
        );
        if self.outbox.contains(&request_id) {
            // Asked again (a reconnect, a takeover): send what was rolled, never roll again.
            let step = self.outbox.start(&request_id, true);
            self.deliver(&request_id, step, commands);
            return;
        }
        if self.rolling.contains_key(&request_id) {
            return;
        }
        if let Some(marker) = self.settled.get(&request_id) {
            // Settled already: answered from the marker, without touching the dice. The
            // outcome goes once more, without retries: the server's answer changes nothing.
            if let Some(results) = marker.results.clone() {
                let frame = ClientFrame::new(ClientMessage::RollResult(RollResult { results }))
                    .with_request_id(request_id);
                self.send(frame, commands);
            }
            return;
        }
        let deadline_ms = now_ms.saturating_add(request.timeout_ms);
        self.rolling
            .insert(request_id.clone(), (deadline_ms, request.rolls.clone()));
        commands.push(Command::StoreOutbox(StoredRoll {
            request_id: request_id.clone(),
            deadline_ms,
            rolls: request.rolls.clone(),
            results: None,
        }));
        commands.push(Command::Roll {
            request_id,
            rolls: request.rolls,
        });
    }

    fn on_rolled(
        &mut self,
        request_id: String,
        results: Vec<RollOutcome>,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        let Some((deadline_ms, rolls)) = self.rolling.remove(&request_id) else {
            return;
        };
        // Stored before anything of it is sent: a reload from here on resends it.
        commands.push(Command::StoreOutbox(StoredRoll {
            request_id: request_id.clone(),
            deadline_ms,
            rolls,
            results: Some(results.clone()),
        }));
        let entry = OutboxEntry {
            request_id,
            results,
            deadline_ms,
        };
        self.add_to_outbox(entry, now_ms, commands);
    }

    fn add_to_outbox(&mut self, entry: OutboxEntry, now_ms: u64, commands: &mut Vec<Command>) {
        let request_id = entry.request_id.clone();
        commands.push(Command::SetTimer {
            kind: TimerKind::RollDeadline(request_id.clone()),
            delay_ms: entry.deadline_ms.saturating_sub(now_ms),
        });
        let step = self
            .outbox
            .add(entry, self.state == ConnectionState::Connected);
        self.deliver(&request_id, step, commands);
    }

    /// Carries out one delivery step of an outbox entry.
    fn deliver(&mut self, request_id: &str, step: Step, commands: &mut Vec<Command>) {
        let Some(entry) = self.outbox.entry(request_id) else {
            return;
        };
        match step {
            Step::SendFrame => {
                let frame = ClientFrame::new(ClientMessage::RollResult(RollResult {
                    results: entry.results.clone(),
                }))
                .with_request_id(request_id);
                self.send(frame, commands);
                commands.push(Command::SetTimer {
                    kind: TimerKind::RollDelivery(request_id.to_owned()),
                    delay_ms: ACK_WAIT_MS,
                });
            }
            Step::Wait(delay_ms) => commands.push(Command::SetTimer {
                kind: TimerKind::RollDelivery(request_id.to_owned()),
                delay_ms,
            }),
            Step::Post => {
                commands.push(Command::CancelTimer(TimerKind::RollDelivery(
                    request_id.to_owned(),
                )));
                let Some(config) = &self.config else { return };
                let Ok(base) = http_base(&config.server_url) else {
                    return;
                };
                let submission = RollResultSubmission {
                    request_id: request_id.to_owned(),
                    client_id: self.client_id.clone(),
                    results: entry.results.clone(),
                };
                if let Ok(body) = serde_json::to_string(&submission) {
                    commands.push(Command::PostRollResult {
                        request_id: request_id.to_owned(),
                        url: format!("{base}/api/roll-result"),
                        token: config.token.clone(),
                        body,
                    });
                }
            }
            Step::Idle => {}
        }
    }

    /// The server answered, or the deadline passed: the entry is done, whatever the
    /// answer. Its settled marker is stored before the entry leaves storage, so a reload
    /// between the two finds the id settled (and at worst delivers the outcome once more).
    fn settle_roll(&mut self, request_id: &str, commands: &mut Vec<Command>) {
        if let Some(entry) = self.outbox.remove(request_id) {
            commands.push(Command::CancelTimer(TimerKind::RollDelivery(
                request_id.to_owned(),
            )));
            commands.push(Command::CancelTimer(TimerKind::RollDeadline(
                request_id.to_owned(),
            )));
            let marker = SettledRoll::new(entry.request_id, entry.deadline_ms, Some(entry.results));
            commands.push(Command::StoreSettled(marker.clone()));
            self.settled.insert(marker);
            commands.push(Command::DeleteOutbox(request_id.to_owned()));
        }
    }

    fn on_roll_ack(
        &mut self,
        request_id: &str,
        ack: RollAck,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        if !self.outbox.contains(request_id) {
            return;
        }
        commands.extend(
            self.settled
                .prune(now_ms)
                .into_iter()
                .map(Command::DeleteSettled),
        );
        self.settle_roll(request_id, commands);
        if let Some(error) = ack.error {
            commands.push(Command::Emit(CoreEvent::Error {
                code: ErrorCode::InvalidMessage,
                message: format!(
                    "the server refused a roll result ({}): {error}",
                    ack.status.as_str()
                ),
                request_id: Some(request_id.to_owned()),
            }));
        }
    }

    fn on_posted(
        &mut self,
        request_id: &str,
        status: Option<u16>,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        match status {
            Some(status) if http_status_answers(status) => {
                commands.extend(
                    self.settled
                        .prune(now_ms)
                        .into_iter()
                        .map(Command::DeleteSettled),
                );
                self.settle_roll(request_id, commands)
            }
            _ => self.outbox.on_post_failed(request_id),
        }
    }

    fn on_setting_changed(
        &mut self,
        key: String,
        value: JsonValue,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        if CONNECTION_KEYS.contains(&key.as_str()) {
            self.reconfigure(&key, value, now_ms, commands);
            return;
        }
        self.settings.change(key, value);
        self.show_pending(commands);
        commands.push(Command::SetTimer {
            kind: TimerKind::SettingsDebounce,
            delay_ms: DEBOUNCE_MS,
        });
    }

    /// The server URL or the token changed: connect again with it (never synced).
    fn reconfigure(
        &mut self,
        key: &str,
        value: JsonValue,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        let Some(mut config) = self.config.clone() else {
            return;
        };
        let text = value.as_str().unwrap_or_default().to_owned();
        if key == "serverUrl" {
            config.server_url = text;
        } else {
            config.token = text;
        }
        config.settings = BTreeMap::new();
        let pending_settings = std::mem::take(&mut self.settings);
        match self.start(config, Restored::default(), now_ms) {
            Ok(restart) => commands.extend(restart),
            Err(error) => {
                commands.extend(self.stop());
                commands.push(Command::Emit(CoreEvent::State {
                    state: ConnectionState::Idle,
                    detail: Some(error.to_string()),
                }));
            }
        }
        self.settings = pending_settings;
    }

    fn sync_settings(&mut self, now_ms: u64, commands: &mut Vec<Command>) {
        if self.state != ConnectionState::Connected {
            return;
        }
        let sync = self.settings.next_sync(now_ms);
        let request_id = format!("sync-{}", sync.revision);
        self.send(
            ClientFrame::new(ClientMessage::SettingsSync(sync)).with_request_id(request_id),
            commands,
        );
    }

    fn show_pending(&mut self, commands: &mut Vec<Command>) {
        let pending = self.settings.pending();
        if self.shown_pending != Some(pending) {
            self.shown_pending = Some(pending);
            commands.push(Command::ShowSettingsPending(pending));
            commands.push(Command::Emit(CoreEvent::SettingsPending { pending }));
        }
    }

    fn on_closed(&mut self, code: u16, reason: String, commands: &mut Vec<Command>) {
        commands.push(Command::CancelTimer(TimerKind::Heartbeat));
        commands.push(Command::CancelTimer(TimerKind::PongDeadline));
        self.socket_lost(commands);
        match self.state {
            ConnectionState::Idle
            | ConnectionState::AuthFailed
            | ConnectionState::Incompatible
            | ConnectionState::Replaced => {}
            _ if code == CLOSE_REPLACED => {
                self.set_state(ConnectionState::Replaced, Some(reason), commands);
            }
            _ => self.schedule_reconnect(commands),
        }
    }

    fn schedule_reconnect(&mut self, commands: &mut Vec<Command>) {
        let delay_ms = reconnect_delay_ms(self.attempt, self.jitter.next_unit());
        self.attempt = self.attempt.saturating_add(1);
        commands.push(Command::SetTimer {
            kind: TimerKind::Reconnect,
            delay_ms,
        });
        self.set_state(ConnectionState::Reconnecting, None, commands);
    }

    fn on_timer(&mut self, kind: TimerKind, now_ms: u64, commands: &mut Vec<Command>) {
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
                let request_id = format!("ping-{}", self.next_ping);
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
            TimerKind::RollDeadline(request_id) => self.settle_roll(&request_id, commands),
        }
    }

    /// The socket is gone: results waiting on it go over HTTP, and turns not yet
    /// started are reported as not started.
    fn socket_lost(&mut self, commands: &mut Vec<Command>) {
        for (request_id, step) in self.outbox.on_socket_closed() {
            self.deliver(&request_id, step, commands);
        }
        for request_id in std::mem::take(&mut self.awaiting_turns) {
            commands.push(Command::SettleTurn {
                request_id,
                outcome: Err("the connection dropped before the turn started".into()),
            });
        }
    }
}

fn decode(text: &str) -> Result<ServerFrame, String> {
    let raw: RawFrame<serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    ServerFrame::decode(raw).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::settled::SETTLED_MARGIN_MS;

    use gold_box_protocol::{UserInfo, WorldInfo};

    /// The wall clock the tests run at (epoch ms).
    const NOW: u64 = 1_764_216_000_000;

    fn config(token: &str) -> CoreConfig {
        CoreConfig {
            server_url: "http://127.0.0.1:8787".into(),
            token: token.into(),
            world: WorldInfo {
                id: "w".into(),
                title: "World".into(),
                system: "dnd5e".into(),
            },
            user: UserInfo {
                id: "u1".into(),
                name: "GM".into(),
                is_gm: true,
            },
            settings: BTreeMap::from([("aiRole".to_owned(), JsonValue::String("dm".into()))]),
        }
    }

    fn connected_frame() -> Input {
        Input::SocketText(
            r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"a"}}"#.into(),
        )
    }

    fn states(commands: &[Command]) -> Vec<ConnectionState> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Emit(CoreEvent::State { state, .. }) => Some(*state),
                _ => None,
            })
            .collect()
    }

    fn sent(commands: &[Command]) -> Vec<serde_json::Value> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Send(text) => serde_json::from_str(text).ok(),
                _ => None,
            })
            .collect()
    }

    fn reconnect_delay(commands: &[Command]) -> Option<u64> {
        commands.iter().find_map(|c| match c {
            Command::SetTimer {
                kind: TimerKind::Reconnect,
                delay_ms,
            } => Some(*delay_ms),
            _ => None,
        })
    }

    fn connected_machine() -> Machine {
        let mut machine = Machine::new("gb-u1-x".into(), 7);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        machine.handle(connected_frame(), NOW);
        machine
    }

    #[test]
    fn start_opens_the_websocket_and_reports_connecting() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        let commands = machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        assert!(commands.contains(&Command::OpenSocket {
            url: "ws://127.0.0.1:8787/ws".into()
        }));
        assert_eq!(states(&commands), vec![ConnectionState::Connecting]);
    }

    #[test]
    fn the_first_frame_on_open_is_connect_with_token_and_protocol() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        let frames = sent(&machine.handle(Input::SocketOpened, NOW));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["type"], "connect");
        assert_eq!(frames[0]["data"]["token"], "secret");
        assert_eq!(frames[0]["data"]["client_id"], "gb-u1-x");
        assert_eq!(frames[0]["data"]["protocol"], 1);
    }

    #[test]
    fn connected_starts_the_heartbeat() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(connected_frame(), NOW);
        assert_eq!(states(&commands), vec![ConnectionState::Connected]);
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::Heartbeat,
            delay_ms: 15_000
        }));
    }

    #[test]
    fn a_heartbeat_pings_and_a_pong_clears_the_deadline() {
        let mut machine = connected_machine();
        let commands = machine.handle(Input::Timer(TimerKind::Heartbeat), NOW);
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "ping");
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::PongDeadline,
            delay_ms: PONG_TIMEOUT_MS
        }));
        let commands = machine.handle(
            Input::SocketText(r#"{"type":"pong","request_id":"ping-1"}"#.into()),
            NOW,
        );
        assert_eq!(
            commands,
            vec![Command::CancelTimer(TimerKind::PongDeadline)]
        );
    }

    #[test]
    fn a_missing_pong_closes_the_socket_and_reconnects_at_once() {
        let mut machine = connected_machine();
        machine.handle(Input::Timer(TimerKind::Heartbeat), NOW);
        let commands = machine.handle(Input::Timer(TimerKind::PongDeadline), NOW);
        assert!(commands.iter().any(|c| matches!(
            c,
            Command::CloseSocket {
                code: CLOSE_HEARTBEAT_TIMEOUT,
                ..
            }
        )));
        assert_eq!(reconnect_delay(&commands), Some(0));
        assert_eq!(machine.state(), ConnectionState::Reconnecting);
    }

    #[test]
    fn reconnects_back_off_then_reset_after_a_handshake() {
        let mut machine = connected_machine();
        let mut delays = Vec::new();
        for _ in 0..6 {
            let commands = machine.handle(
                Input::SocketClosed {
                    code: 1006,
                    reason: String::new(),
                },
                NOW,
            );
            delays.push(reconnect_delay(&commands).expect("a reconnect is scheduled"));
            machine.handle(Input::Timer(TimerKind::Reconnect), NOW);
        }
        assert_eq!(delays[0], 0);
        for (delay, base) in delays[1..]
            .iter()
            .zip([1_000u64, 2_000, 5_000, 10_000, 10_000])
        {
            assert!(
                (base / 2..=base * 3 / 2).contains(delay),
                "{delay} not within ±50 % of {base}"
            );
        }
        machine.handle(Input::SocketOpened, NOW);
        machine.handle(connected_frame(), NOW);
        let commands = machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        assert_eq!(
            reconnect_delay(&commands),
            Some(0),
            "the schedule starts over after a handshake"
        );
    }

    #[test]
    fn a_refused_token_stops_reconnecting() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("wrong"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(Input::SocketText(
            r#"{"type":"error","data":{"code":"AUTH_FAILED","message":"wrong or missing token"}}"#
                .into(),
        ), NOW);
        assert_eq!(states(&commands), vec![ConnectionState::AuthFailed]);
        let commands = machine.handle(
            Input::SocketClosed {
                code: 1008,
                reason: "authentication failed".into(),
            },
            NOW,
        );
        assert_eq!(reconnect_delay(&commands), None);
        assert_eq!(machine.state(), ConnectionState::AuthFailed);
    }

    #[test]
    fn being_replaced_by_another_tab_stops_reconnecting() {
        let mut machine = connected_machine();
        let commands = machine.handle(
            Input::SocketClosed {
                code: CLOSE_REPLACED,
                reason: "replaced".into(),
            },
            NOW,
        );
        assert_eq!(states(&commands), vec![ConnectionState::Replaced]);
        assert_eq!(reconnect_delay(&commands), None);
    }

    #[test]
    fn stop_closes_the_socket_and_cancels_every_timer() {
        let mut machine = connected_machine();
        let commands = machine.stop();
        for kind in [
            TimerKind::Reconnect,
            TimerKind::Heartbeat,
            TimerKind::PongDeadline,
        ] {
            assert!(commands.contains(&Command::CancelTimer(kind)));
        }
        assert!(
            commands
                .iter()
                .any(|c| matches!(c, Command::CloseSocket { .. }))
        );
        assert_eq!(machine.state(), ConnectionState::Idle);
        assert!(
            machine
                .handle(
                    Input::SocketClosed {
                        code: 1000,
                        reason: String::new()
                    },
                    NOW
                )
                .iter()
                .all(|c| !matches!(c, Command::SetTimer { .. }))
        );
    }

    #[test]
    fn an_unreadable_server_frame_is_reported_not_fatal() {
        let mut machine = connected_machine();
        let commands = machine.handle(Input::SocketText("{nonsense".into()), NOW);
        assert!(matches!(
            commands.as_slice(),
            [Command::Emit(CoreEvent::Error { .. })]
        ));
        assert_eq!(machine.state(), ConnectionState::Connected);
    }

    fn execute_roll(id: &str) -> Input {
        Input::SocketText(format!(
            r#"{{"type":"execute_roll","request_id":"{id}","data":{{"rolls":[{{"formula":"1d20+5","flavor":"Attack"}}],"timeout_ms":30000}}}}"#
        ))
    }

    fn outcome(total: f64) -> Vec<RollOutcome> {
        vec![RollOutcome {
            formula: "1d20+5".into(),
            flavor: Some("Attack".into()),
            total: Some(total),
            dice: vec![],
            error: None,
        }]
    }

    /// The server asks for `id` and Foundry's dice answer with `total`.
    fn roll_and_finish(machine: &mut Machine, id: &str, total: f64) -> Vec<Command> {
        machine.handle(execute_roll(id), NOW);
        machine.handle(
            Input::Rolled {
                request_id: id.into(),
                results: outcome(total),
            },
            NOW,
        )
    }

    fn roll_ack(id: &str, status: &str) -> Input {
        Input::SocketText(format!(
            r#"{{"type":"roll_ack","request_id":"{id}","data":{{"status":"{status}"}}}}"#
        ))
    }

    fn position(commands: &[Command], test: impl Fn(&Command) -> bool) -> usize {
        commands
            .iter()
            .position(test)
            .expect("the command is there")
    }

    #[test]
    fn an_execute_roll_stores_a_marker_then_rolls_once() {
        let mut machine = connected_machine();
        let commands = machine.handle(execute_roll("roll-1"), NOW);
        let stored = position(
            &commands,
            |c| matches!(c, Command::StoreOutbox(e) if e.results.is_none()),
        );
        let rolled = position(&commands, |c| matches!(c, Command::Roll { .. }));
        assert!(stored < rolled, "the marker is stored before rolling");
        let again = machine.handle(execute_roll("roll-1"), NOW);
        assert!(
            !again.iter().any(|c| matches!(c, Command::Roll { .. })),
            "never rolled twice"
        );
    }

    #[test]
    fn an_outcome_is_stored_before_it_is_sent_and_waits_for_its_ack() {
        let mut machine = connected_machine();
        machine.handle(execute_roll("roll-1"), NOW);
        let commands = machine.handle(
            Input::Rolled {
                request_id: "roll-1".into(),
                results: outcome(17.0),
            },
            NOW + 50,
        );
        let stored = position(
            &commands,
            |c| matches!(c, Command::StoreOutbox(e) if e.results.is_some()),
        );
        let sent = position(
            &commands,
            |c| matches!(c, Command::Send(t) if t.contains("roll_result")),
        );
        assert!(stored < sent);
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::RollDelivery("roll-1".into()),
            delay_ms: ACK_WAIT_MS
        }));
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::RollDeadline("roll-1".into()),
            delay_ms: 30_000 - 50
        }));
        assert_eq!(machine.outbox_len(), 1);
        let acked = machine.handle(roll_ack("roll-1", "accepted"), NOW + 60);
        assert!(acked.contains(&Command::DeleteOutbox("roll-1".into())));
        assert_eq!(machine.outbox_len(), 0);
    }

    #[test]
    fn a_repeated_execute_roll_resends_the_stored_outcome() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 12.0);
        let again = machine.handle(execute_roll("roll-1"), NOW + 100);
        let frames = sent(&again);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["data"]["results"][0]["total"], 12.0);
        assert!(!again.iter().any(|c| matches!(c, Command::Roll { .. })));
    }

    /// The tab's storage as the commands leave it, read back by `Machine::start` after a
    /// reload.
    #[derive(Default)]
    struct FakeStorage {
        outbox: BTreeMap<String, StoredRoll>,
        settled: BTreeMap<String, SettledRoll>,
    }

    impl FakeStorage {
        fn apply(&mut self, commands: &[Command]) {
            for command in commands {
                match command {
                    Command::StoreOutbox(entry) => {
                        self.outbox.insert(entry.request_id.clone(), entry.clone());
                    }
                    Command::DeleteOutbox(id) => {
                        self.outbox.remove(id);
                    }
                    Command::StoreSettled(marker) => {
                        self.settled
                            .insert(marker.request_id.clone(), marker.clone());
                    }
                    Command::DeleteSettled(id) => {
                        self.settled.remove(id);
                    }
                    _ => {}
                }
            }
        }

        fn restored(&self) -> Restored {
            Restored {
                outbox: self.outbox.values().cloned().collect(),
                settled: self.settled.values().cloned().collect(),
            }
        }
    }

    fn rolls_made(commands: &[Command]) -> usize {
        commands
            .iter()
            .filter(|c| matches!(c, Command::Roll { .. }))
            .count()
    }

    #[test]
    fn an_acknowledged_request_asked_again_is_never_rolled_again() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 12.0);
        machine.handle(roll_ack("roll-1", "accepted"), NOW + 10);
        // The server sends its execute_roll again after a reconnect that raced the ack.
        let again = machine.handle(execute_roll("roll-1"), NOW + 20);
        assert_eq!(rolls_made(&again), 0, "rolled a second time: {again:?}");
        let frames = sent(&again);
        assert_eq!(frames.len(), 1, "answered from the stored outcome");
        assert_eq!(frames[0]["data"]["results"][0]["total"], 12.0);
        assert_eq!(machine.outbox_len(), 0, "not delivered again with retries");
    }

    #[test]
    fn a_settled_marker_leaves_storage_after_its_deadline_plus_the_margin() {
        let mut storage = FakeStorage::default();
        let mut machine = connected_machine();
        storage.apply(&roll_and_finish(&mut machine, "roll-1", 12.0));
        storage.apply(&machine.handle(roll_ack("roll-1", "accepted"), NOW + 10));
        assert!(storage.outbox.is_empty());
        let marker = storage
            .settled
            .get("roll-1")
            .expect("a settled marker is stored");
        assert_eq!(marker.keep_until_ms, NOW + 30_000 + SETTLED_MARGIN_MS);
        let later = NOW + 30_000 + SETTLED_MARGIN_MS;
        storage.apply(&machine.handle(execute_roll("roll-2"), later));
        assert!(
            storage.settled.is_empty(),
            "pruned when the next request comes"
        );
        assert_eq!(machine.settled_len(), 0);
    }

    #[test]
    fn a_request_past_its_deadline_asked_again_is_never_rolled_again() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 12.0);
        machine.handle(
            Input::Timer(TimerKind::RollDeadline("roll-1".into())),
            NOW + 30_000,
        );
        let again = machine.handle(execute_roll("roll-1"), NOW + 30_010);
        assert_eq!(rolls_made(&again), 0, "rolled a second time: {again:?}");
    }

    #[test]
    fn after_a_reload_an_acknowledged_request_is_never_rolled_again() {
        let mut storage = FakeStorage::default();
        let mut machine = connected_machine();
        let mut commands = machine.handle(execute_roll("roll-1"), NOW);
        commands.extend(machine.handle(
            Input::Rolled {
                request_id: "roll-1".into(),
                results: outcome(12.0),
            },
            NOW,
        ));
        commands.extend(machine.handle(roll_ack("roll-1", "accepted"), NOW + 10));
        storage.apply(&commands);
        drop(machine);

        let mut reloaded = Machine::new("gb-u1-x".into(), 2);
        reloaded
            .start(config("secret"), storage.restored(), NOW + 1_000)
            .expect("start");
        reloaded.handle(Input::SocketOpened, NOW + 1_000);
        reloaded.handle(connected_frame(), NOW + 1_000);
        let again = reloaded.handle(execute_roll("roll-1"), NOW + 1_010);
        assert_eq!(rolls_made(&again), 0, "rolled a second time: {again:?}");
    }

    #[test]
    fn any_ack_status_removes_the_entry() {
        for status in [
            "accepted",
            "duplicate",
            "expired",
            "unknown",
            "forbidden",
            "invalid",
        ] {
            let mut machine = connected_machine();
            machine.handle(execute_roll("roll-1"), NOW);
            machine.handle(
                Input::Rolled {
                    request_id: "roll-1".into(),
                    results: outcome(3.0),
                },
                NOW,
            );
            machine.handle(roll_ack("roll-1", status), NOW);
            assert_eq!(machine.outbox_len(), 0, "{status}");
        }
    }

    #[test]
    fn a_closed_socket_sends_waiting_results_over_http_with_the_token() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 9.0);
        let commands = machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        let post = commands
            .iter()
            .find_map(|c| match c {
                Command::PostRollResult {
                    url, token, body, ..
                } => Some((url.clone(), token.clone(), body.clone())),
                _ => None,
            })
            .expect("posted");
        assert_eq!(post.0, "http://127.0.0.1:8787/api/roll-result");
        assert_eq!(post.1, "secret");
        let body: serde_json::Value = serde_json::from_str(&post.2).expect("json");
        assert_eq!(body["request_id"], "roll-1");
        assert_eq!(body["client_id"], "gb-u1-x");
        let done = machine.handle(
            Input::Posted {
                request_id: "roll-1".into(),
                status: Some(200),
            },
            NOW,
        );
        assert!(done.contains(&Command::DeleteOutbox("roll-1".into())));
    }

    #[test]
    fn a_failed_post_is_sent_again_after_the_reconnect() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 9.0);
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        machine.handle(
            Input::Posted {
                request_id: "roll-1".into(),
                status: None,
            },
            NOW,
        );
        assert_eq!(machine.outbox_len(), 1);
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW);
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(connected_frame(), NOW);
        assert!(sent(&commands).iter().any(|f| f["type"] == "roll_result"));
    }

    #[test]
    fn after_a_reload_stored_results_are_delivered_and_interrupted_rolls_report_an_error() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        let stored = vec![
            StoredRoll {
                request_id: "roll-1".into(),
                deadline_ms: NOW + 10_000,
                rolls: vec![],
                results: Some(outcome(11.0)),
            },
            StoredRoll {
                request_id: "roll-2".into(),
                deadline_ms: NOW + 10_000,
                rolls: vec![RollRequest {
                    formula: "2d6".into(),
                    flavor: None,
                }],
                results: None,
            },
            StoredRoll {
                request_id: "roll-3".into(),
                deadline_ms: NOW - 1,
                rolls: vec![],
                results: Some(outcome(1.0)),
            },
        ];
        let stored = Restored {
            outbox: stored,
            ..Restored::default()
        };
        let commands = machine.start(config("secret"), stored, NOW).expect("start");
        assert!(
            commands.contains(&Command::DeleteOutbox("roll-3".into())),
            "expired entries go"
        );
        assert!(
            !commands.iter().any(|c| matches!(c, Command::Roll { .. })),
            "nothing is rolled again"
        );
        let interrupted = commands
            .iter()
            .find_map(|c| match c {
                Command::StoreOutbox(entry) if entry.request_id == "roll-2" => {
                    entry.results.clone()
                }
                _ => None,
            })
            .expect("roll-2 stored with outcomes");
        assert_eq!(interrupted[0].error.as_deref(), Some(INTERRUPTED_ROLL));
        assert_eq!(machine.outbox_len(), 2);
    }

    #[test]
    fn a_result_past_its_deadline_leaves_the_outbox() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 9.0);
        let commands = machine.handle(
            Input::Timer(TimerKind::RollDeadline("roll-1".into())),
            NOW + 30_000,
        );
        assert!(commands.contains(&Command::DeleteOutbox("roll-1".into())));
        assert_eq!(machine.outbox_len(), 0);
    }

    fn settings_ack(revision: u64) -> Input {
        Input::SocketText(format!(
            r#"{{"type":"settings_ack","data":{{"revision":{revision}}}}}"#
        ))
    }

    fn last_sync_revision(commands: &[Command]) -> Option<u64> {
        sent(commands)
            .iter()
            .rev()
            .find(|f| f["type"] == "settings_sync")
            .and_then(|f| f["data"]["revision"].as_u64())
    }

    #[test]
    fn the_initial_settings_are_synced_on_connect_without_the_indicator() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(connected_frame(), NOW);
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "settings_sync");
        assert_eq!(frames[0]["data"]["settings"]["aiRole"], "dm");
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, Command::ShowSettingsPending(true)))
        );
    }

    #[test]
    fn a_change_shows_the_indicator_and_syncs_after_the_debounce_until_acked() {
        let mut machine = connected_machine();
        let change = |value: &str| Input::SettingChanged {
            key: "aiRole".into(),
            value: JsonValue::String(value.into()),
        };
        let first = machine.handle(change("player"), NOW);
        assert!(first.contains(&Command::ShowSettingsPending(true)));
        assert!(first.contains(&Command::SetTimer {
            kind: TimerKind::SettingsDebounce,
            delay_ms: DEBOUNCE_MS
        }));
        let second = machine.handle(change("dm_assistant"), NOW + 500);
        assert!(
            !second.contains(&Command::ShowSettingsPending(true)),
            "shown once"
        );
        assert!(
            sent(&second).is_empty(),
            "nothing is sent before the quiet second"
        );
        let synced = machine.handle(Input::Timer(TimerKind::SettingsDebounce), NOW + 1_500);
        let revision = last_sync_revision(&synced).expect("a sync");
        assert!(machine.settings_pending());
        let acked = machine.handle(settings_ack(revision), NOW + 1_510);
        assert!(acked.contains(&Command::ShowSettingsPending(false)));
        assert!(!machine.settings_pending());
    }

    #[test]
    fn connection_settings_reconnect_and_are_never_synced() {
        let mut machine = connected_machine();
        let commands = machine.handle(
            Input::SettingChanged {
                key: "token".into(),
                value: JsonValue::String("new-secret".into()),
            },
            NOW,
        );
        assert!(
            commands
                .iter()
                .any(|c| matches!(c, Command::OpenSocket { .. }))
        );
        assert!(!commands.contains(&Command::ShowSettingsPending(true)));
        let frames = sent(&machine.handle(Input::SocketOpened, NOW));
        assert_eq!(frames[0]["data"]["token"], "new-secret");
    }

    #[test]
    fn a_change_made_offline_is_synced_on_reconnect() {
        let mut machine = connected_machine();
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        machine.handle(
            Input::SettingChanged {
                key: "aiRole".into(),
                value: JsonValue::String("player".into()),
            },
            NOW,
        );
        let debounce = machine.handle(Input::Timer(TimerKind::SettingsDebounce), NOW + 1_000);
        assert!(sent(&debounce).is_empty());
        assert!(machine.settings_pending());
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW + 1_000);
        machine.handle(Input::SocketOpened, NOW + 1_000);
        let commands = machine.handle(connected_frame(), NOW + 1_000);
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "settings_sync");
        assert_eq!(frames[0]["data"]["settings"]["aiRole"], "player");
    }

    #[test]
    fn a_turn_sends_the_pending_sync_first_then_the_chat_request() {
        let mut machine = connected_machine();
        machine.handle(
            Input::SettingChanged {
                key: "aiRole".into(),
                value: JsonValue::String("player".into()),
            },
            NOW,
        );
        let (request_id, commands) = machine.take_turn(vec![], NOW + 100).expect("turn");
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "settings_sync");
        assert_eq!(frames[1]["type"], "chat_request");
        assert_eq!(frames[1]["request_id"], request_id.as_str());
        assert_eq!(
            frames[1]["data"]["settings_revision"],
            frames[0]["data"]["revision"]
        );
        assert!(commands.contains(&Command::CancelTimer(TimerKind::SettingsDebounce)));
    }

    #[test]
    fn a_turn_settles_on_ai_turn_started_or_is_refused_on_ai_busy() {
        let mut machine = connected_machine();
        let (first, _) = machine.take_turn(vec![], NOW).expect("turn");
        let started = machine.handle(
            Input::SocketText(format!(
                r#"{{"type":"ai_turn_started","request_id":"{first}","data":{{}}}}"#
            )),
            NOW,
        );
        assert!(started.contains(&Command::SettleTurn {
            request_id: first.clone(),
            outcome: Ok(())
        }));
        let (second, _) = machine.take_turn(vec![], NOW).expect("turn");
        let busy = machine.handle(
            Input::SocketText(format!(
                r#"{{"type":"error","request_id":"{second}","data":{{"code":"AI_BUSY","message":"busy"}}}}"#
            )),
            NOW,
        );
        assert_eq!(
            busy,
            vec![Command::SettleTurn {
                request_id: second,
                outcome: Err("busy".into())
            }],
            "refused once, without a second error event"
        );
    }

    #[test]
    fn a_turn_cannot_be_asked_for_while_disconnected() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        assert!(machine.take_turn(vec![], NOW).is_err());
    }

    #[test]
    fn stopping_while_a_result_waits_for_its_ack_sends_it_over_http() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 9.0);
        let commands = machine.stop();
        assert!(
            commands.iter().any(|c| matches!(c, Command::PostRollResult { request_id, .. } if request_id == "roll-1")),
            "a stopped core still delivers what it rolled"
        );
        assert_eq!(machine.state(), ConnectionState::Idle);
        assert!(
            machine
                .handle(Input::Timer(TimerKind::Reconnect), NOW)
                .is_empty(),
            "a stopped core does not reconnect"
        );
    }

    #[test]
    fn a_turn_the_restarted_server_forgot_is_reported_as_failed() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        machine.handle(
            Input::SocketText(format!(
                r#"{{"type":"ai_turn_started","request_id":"{request_id}","data":{{}}}}"#
            )),
            NOW,
        );
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW);
        machine.handle(Input::SocketOpened, NOW);
        let same_server = machine.handle(connected_frame(), NOW);
        assert!(
            !same_server
                .iter()
                .any(|c| matches!(c, Command::Emit(CoreEvent::TurnComplete { .. }))),
            "the same server still runs the turn"
        );
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW);
        machine.handle(Input::SocketOpened, NOW);
        let restarted = machine.handle(
            Input::SocketText(
                r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"b"}}"#.into(),
            ),
            NOW,
        );
        assert!(restarted.iter().any(|c| matches!(
            c,
            Command::Emit(CoreEvent::TurnComplete { request_id: id, error: Some(e), .. }) if *id == request_id && e == SERVER_RESTARTED
        )));
    }
}
