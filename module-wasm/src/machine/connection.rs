//! The connection: the handshake, the heartbeat, reconnecting with backoff, and
//! connecting again when the server URL or the token changes.

use super::*;

impl Machine {
    pub(super) fn on_connected(
        &mut self,
        connected: Connected,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        self.attempt = 0;
        self.connection = self.connection.wrapping_add(1);
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
        if let Some(max_turn_ms) = connected.max_turn_ms {
            self.max_turn_ms = max_turn_ms;
        }
        self.on_resumed(connected.resume, commands);
        self.on_turn_fate(connected.turn, now_ms, commands);
    }

    /// An error while connecting: a refused token or protocol stops the retries.
    pub(super) fn on_handshake_refused(&mut self, error: ErrorData, commands: &mut Vec<Command>) {
        let state = match error.code {
            ErrorCode::AuthFailed => ConnectionState::AuthFailed,
            ErrorCode::ProtocolUnsupported => ConnectionState::Incompatible,
            _ => ConnectionState::Connecting,
        };
        self.set_state(state, Some(error.message), commands);
    }

    pub(super) fn on_open(&mut self, commands: &mut Vec<Command>) {
        let Some(config) = &self.config else { return };
        let connect = ClientMessage::Connect(Connect {
            client_id: self.client_id.clone(),
            token: config.token.clone(),
            protocol: PROTOCOL_VERSION,
            world: config.world.clone(),
            user: config.user.clone(),
            resume: Some(ResumeFrom {
                instance: self.resume.instance.clone(),
                last_seq: self.resume.last_seq,
            }),
        });
        self.send(ClientFrame::new(connect), commands);
    }

    /// A server that restarted has forgotten the turns it was running: they are reported
    /// as failed rather than waited on for ever, and so are the requests it had not
    /// answered. Its session frames are numbered anew: the resume point starts over.
    pub(super) fn note_server_instance(
        &mut self,
        instance: Option<String>,
        commands: &mut Vec<Command>,
    ) {
        let Some(instance) = instance else { return };
        if self.resume.instance.as_deref() == Some(instance.as_str()) {
            return;
        }
        if self.resume.instance.is_some() {
            for request_id in std::mem::take(&mut self.open_turns) {
                commands.push(Command::Emit(CoreEvent::TurnComplete {
                    request_id,
                    status: gold_box_protocol::TurnStatus::Failed,
                    error: Some(SERVER_RESTARTED.into()),
                    iterations: 0,
                    duration_ms: 0,
                }));
            }
            self.settle_earlier_turns(SERVER_RESTARTED_BEFORE_ANSWER, commands);
        }
        self.resume = ResumePoint {
            instance: Some(instance),
            last_seq: 0,
        };
        commands.push(Command::StoreResume(self.resume.clone()));
    }

    pub(super) fn on_closed(&mut self, code: u16, reason: String, commands: &mut Vec<Command>) {
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

    pub(super) fn schedule_reconnect(&mut self, commands: &mut Vec<Command>) {
        let delay_ms = reconnect_delay_ms(self.attempt, self.jitter.next_unit());
        self.attempt = self.attempt.saturating_add(1);
        commands.push(Command::SetTimer {
            kind: TimerKind::Reconnect,
            delay_ms,
        });
        self.set_state(ConnectionState::Reconnecting, None, commands);
    }

    /// The server URL or the token changed: connect again with it (never synced).
    pub(super) fn reconfigure(
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
        config.settings = JsonMap::new();
        let pending_settings = std::mem::take(&mut self.settings);
        match self.start(config, Restored::default(), now_ms) {
            // `append`, not `extend`: the same move, without an `Extend` of its own.
            Ok(mut restart) => commands.append(&mut restart),
            Err(error) => {
                commands.append(&mut self.stop());
                commands.push(Command::Emit(CoreEvent::State {
                    state: ConnectionState::Idle,
                    detail: Some(error.message()),
                }));
            }
        }
        self.settings = pending_settings;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

    #[test]
    pub(super) fn start_opens_the_websocket_and_reports_connecting() {
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
    pub(super) fn the_first_frame_on_open_is_connect_with_token_and_protocol() {
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
    pub(super) fn connected_starts_the_heartbeat() {
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
    pub(super) fn a_heartbeat_pings_and_a_pong_clears_the_deadline() {
        let mut machine = connected_machine();
        let commands = machine.handle(Input::Timer(TimerKind::Heartbeat), NOW);
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "ping");
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::PongDeadline,
            delay_ms: PONG_TIMEOUT_MS
        }));
        let commands = machine.handle(text(r#"{"type":"pong","request_id":"ping-1"}"#.into()), NOW);
        assert_eq!(
            commands,
            vec![Command::CancelTimer(TimerKind::PongDeadline)]
        );
    }

    #[test]
    pub(super) fn a_missing_pong_closes_the_socket_and_reconnects_at_once() {
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
    pub(super) fn reconnects_back_off_then_reset_after_a_handshake() {
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
    pub(super) fn a_refused_token_stops_reconnecting() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("wrong"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(text(
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
    pub(super) fn being_replaced_by_another_tab_stops_reconnecting() {
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
    pub(super) fn stop_closes_the_socket_and_cancels_every_timer() {
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
    pub(super) fn an_unreadable_server_frame_is_reported_not_fatal() {
        let mut machine = connected_machine();
        let commands = machine.handle(text("{nonsense".into()), NOW);
        assert!(matches!(
            commands.as_slice(),
            [Command::Emit(CoreEvent::Error { .. })]
        ));
        assert_eq!(machine.state(), ConnectionState::Connected);
    }

    #[test]
    pub(super) fn connection_settings_reconnect_and_are_never_synced() {
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
        assert!(!commands.contains(&Command::Emit(CoreEvent::SettingsPending { pending: true })));
        let frames = sent(&machine.handle(Input::SocketOpened, NOW));
        assert_eq!(frames[0]["data"]["token"], "new-secret");
    }
}
