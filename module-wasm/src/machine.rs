//! The core's state machine: the connection (handshake, heartbeat, reconnect with
//! backoff). It is plain Rust: [`Machine::handle`] takes an [`Input`] and returns the
//! [`Command`]s for the browser, so every rule here is tested on the host.

use crate::backoff::{Jitter, reconnect_delay_ms};
use crate::config::{BadServerUrl, CoreConfig, websocket_url};
use crate::effects::{Command, ConnectionState, CoreEvent, Input, TimerKind};
use gold_box_protocol::{
    ClientFrame, ClientMessage, Connect, Empty, ErrorCode, PROTOCOL_VERSION, RawFrame, ServerFrame,
    ServerMessage,
};

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
    jitter: Jitter,
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
            jitter: Jitter::new(seed),
        }
    }

    pub fn state(&self) -> ConnectionState {
        self.state
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Starts (or restarts, with new settings) the connection.
    pub fn start(&mut self, config: CoreConfig) -> Result<Vec<Command>, BadServerUrl> {
        let url = websocket_url(&config.server_url)?;
        let mut commands = self.stop_connection();
        self.config = Some(config);
        self.attempt = 0;
        commands.push(Command::OpenSocket { url });
        self.set_state(ConnectionState::Connecting, None, &mut commands);
        Ok(commands)
    }

    /// Closes the connection and cancels every timer.
    pub fn stop(&mut self) -> Vec<Command> {
        let mut commands = self.stop_connection();
        self.config = None;
        self.set_state(ConnectionState::Idle, None, &mut commands);
        commands
    }

    pub fn handle(&mut self, input: Input) -> Vec<Command> {
        let mut commands = Vec::new();
        match input {
            Input::SocketOpened => self.on_open(&mut commands),
            Input::SocketText(text) => self.on_text(&text, &mut commands),
            Input::SocketClosed { code, reason } => self.on_closed(code, reason, &mut commands),
            Input::Timer(kind) => self.on_timer(kind, &mut commands),
        }
        commands
    }

    fn stop_connection(&mut self) -> Vec<Command> {
        vec![
            Command::CancelTimer(TimerKind::Reconnect),
            Command::CancelTimer(TimerKind::Heartbeat),
            Command::CancelTimer(TimerKind::PongDeadline),
            Command::CloseSocket {
                code: CLOSE_NORMAL,
                reason: "stopped".into(),
            },
        ]
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
        });
        self.send(ClientFrame::new(connect), commands);
    }

    fn on_text(&mut self, text: &str, commands: &mut Vec<Command>) {
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
                self.heartbeat_ms = connected.heartbeat_ms.max(1_000);
                commands.push(Command::SetTimer {
                    kind: TimerKind::Heartbeat,
                    delay_ms: self.heartbeat_ms,
                });
                self.set_state(ConnectionState::Connected, None, commands);
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
            ServerMessage::Error(error) => commands.push(Command::Emit(CoreEvent::Error {
                code: error.code,
                message: error.message,
                request_id: frame.request_id,
            })),
            ServerMessage::AiTurnStarted(_) => {
                if let Some(request_id) = frame.request_id {
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
                    commands.push(Command::Emit(CoreEvent::TurnComplete {
                        request_id,
                        status: done.status,
                        error: done.error,
                        iterations: done.iterations,
                        duration_ms: done.duration_ms,
                    }));
                }
            }
            ServerMessage::ExecuteRoll(_)
            | ServerMessage::RollAck(_)
            | ServerMessage::SettingsAck(_) => {}
        }
    }

    fn on_closed(&mut self, code: u16, reason: String, commands: &mut Vec<Command>) {
        commands.push(Command::CancelTimer(TimerKind::Heartbeat));
        commands.push(Command::CancelTimer(TimerKind::PongDeadline));
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

    fn on_timer(&mut self, kind: TimerKind, commands: &mut Vec<Command>) {
        match kind {
            TimerKind::Reconnect => {
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
                self.schedule_reconnect(commands);
            }
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
    use gold_box_protocol::{UserInfo, WorldInfo};

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
        }
    }

    fn connected_frame() -> Input {
        Input::SocketText(
            r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000}}"#.into(),
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
        machine.start(config("secret")).expect("start");
        machine.handle(Input::SocketOpened);
        machine.handle(connected_frame());
        machine
    }

    #[test]
    fn start_opens_the_websocket_and_reports_connecting() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        let commands = machine.start(config("secret")).expect("start");
        assert!(commands.contains(&Command::OpenSocket {
            url: "ws://127.0.0.1:8787/ws".into()
        }));
        assert_eq!(states(&commands), vec![ConnectionState::Connecting]);
    }

    #[test]
    fn the_first_frame_on_open_is_connect_with_token_and_protocol() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine.start(config("secret")).expect("start");
        let frames = sent(&machine.handle(Input::SocketOpened));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["type"], "connect");
        assert_eq!(frames[0]["data"]["token"], "secret");
        assert_eq!(frames[0]["data"]["client_id"], "gb-u1-x");
        assert_eq!(frames[0]["data"]["protocol"], 1);
    }

    #[test]
    fn connected_starts_the_heartbeat() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine.start(config("secret")).expect("start");
        machine.handle(Input::SocketOpened);
        let commands = machine.handle(connected_frame());
        assert_eq!(states(&commands), vec![ConnectionState::Connected]);
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::Heartbeat,
            delay_ms: 15_000
        }));
    }

    #[test]
    fn a_heartbeat_pings_and_a_pong_clears_the_deadline() {
        let mut machine = connected_machine();
        let commands = machine.handle(Input::Timer(TimerKind::Heartbeat));
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "ping");
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::PongDeadline,
            delay_ms: PONG_TIMEOUT_MS
        }));
        let commands = machine.handle(Input::SocketText(
            r#"{"type":"pong","request_id":"ping-1"}"#.into(),
        ));
        assert_eq!(
            commands,
            vec![Command::CancelTimer(TimerKind::PongDeadline)]
        );
    }

    #[test]
    fn a_missing_pong_closes_the_socket_and_reconnects_at_once() {
        let mut machine = connected_machine();
        machine.handle(Input::Timer(TimerKind::Heartbeat));
        let commands = machine.handle(Input::Timer(TimerKind::PongDeadline));
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
            let commands = machine.handle(Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            });
            delays.push(reconnect_delay(&commands).expect("a reconnect is scheduled"));
            machine.handle(Input::Timer(TimerKind::Reconnect));
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
        machine.handle(Input::SocketOpened);
        machine.handle(connected_frame());
        let commands = machine.handle(Input::SocketClosed {
            code: 1006,
            reason: String::new(),
        });
        assert_eq!(
            reconnect_delay(&commands),
            Some(0),
            "the schedule starts over after a handshake"
        );
    }

    #[test]
    fn a_refused_token_stops_reconnecting() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine.start(config("wrong")).expect("start");
        machine.handle(Input::SocketOpened);
        let commands = machine.handle(Input::SocketText(
            r#"{"type":"error","data":{"code":"AUTH_FAILED","message":"wrong or missing token"}}"#
                .into(),
        ));
        assert_eq!(states(&commands), vec![ConnectionState::AuthFailed]);
        let commands = machine.handle(Input::SocketClosed {
            code: 1008,
            reason: "authentication failed".into(),
        });
        assert_eq!(reconnect_delay(&commands), None);
        assert_eq!(machine.state(), ConnectionState::AuthFailed);
    }

    #[test]
    fn being_replaced_by_another_tab_stops_reconnecting() {
        let mut machine = connected_machine();
        let commands = machine.handle(Input::SocketClosed {
            code: CLOSE_REPLACED,
            reason: "replaced".into(),
        });
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
                .handle(Input::SocketClosed {
                    code: 1000,
                    reason: String::new()
                })
                .iter()
                .all(|c| !matches!(c, Command::SetTimer { .. }))
        );
    }

    #[test]
    fn an_unreadable_server_frame_is_reported_not_fatal() {
        let mut machine = connected_machine();
        let commands = machine.handle(Input::SocketText("{nonsense".into()));
        assert!(matches!(
            commands.as_slice(),
            [Command::Emit(CoreEvent::Error { .. })]
        ));
        assert_eq!(machine.state(), ConnectionState::Connected);
    }
}
