//! The AI turns the GM asked for: the `chat_request`, and the frames that answer it.

use super::*;

impl Machine {
    pub(super) fn on_server_error(
        &mut self,
        request_id: Option<String>,
        error: ErrorData,
        commands: &mut Vec<Command>,
    ) {
        match request_id {
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
        }
    }

    pub(super) fn on_turn_started(
        &mut self,
        request_id: Option<String>,
        commands: &mut Vec<Command>,
    ) {
        let Some(request_id) = request_id else { return };
        self.open_turns.insert(request_id.clone());
        if self.awaiting_turns.remove(&request_id) {
            commands.push(Command::SettleTurn {
                request_id: request_id.clone(),
                outcome: Ok(()),
            });
        }
        commands.push(Command::Emit(CoreEvent::TurnStarted { request_id }));
    }

    pub(super) fn on_chat_response(
        &mut self,
        request_id: Option<String>,
        response: ChatResponse,
        commands: &mut Vec<Command>,
    ) {
        let Some(request_id) = request_id else { return };
        commands.push(Command::Emit(CoreEvent::ChatResponse {
            request_id,
            message: response.message,
        }));
    }

    pub(super) fn on_turn_complete(
        &mut self,
        request_id: Option<String>,
        done: AiTurnComplete,
        commands: &mut Vec<Command>,
    ) {
        let Some(request_id) = request_id else { return };
        self.open_turns.remove(&request_id);
        commands.push(Command::Emit(CoreEvent::TurnComplete {
            request_id,
            status: done.status,
            error: done.error,
            iterations: done.iterations,
            duration_ms: done.duration_ms,
        }));
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
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

    #[test]
    pub(super) fn a_turn_sends_the_pending_sync_first_then_the_chat_request() {
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
    pub(super) fn a_turn_settles_on_ai_turn_started_or_is_refused_on_ai_busy() {
        let mut machine = connected_machine();
        let (first, _) = machine.take_turn(vec![], NOW).expect("turn");
        let started = machine.handle(
            text(format!(
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
            text(format!(
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
    pub(super) fn a_turn_cannot_be_asked_for_while_disconnected() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        assert!(machine.take_turn(vec![], NOW).is_err());
    }

    #[test]
    pub(super) fn a_turn_the_restarted_server_forgot_is_reported_as_failed() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        machine.handle(
            text(format!(
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
            text(
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
