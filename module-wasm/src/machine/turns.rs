//! The AI turns the GM asked for: the `chat_request`, and the frames that answer it.
//!
//! A turn's request id is `turn-<client id>-<page load>-<n>`: the page-load part (the
//! wall clock at start and a random part) keeps ids unique across reloads under the same
//! client id, so an old turn's frames are never taken for a new one's.
//!
//! A `takeAiTurn` promise settles on the server's answer (`ai_turn_started`, or a
//! refusal such as `AI_BUSY`). Across a cut it stays pending: the answer comes in the
//! replay of the resumed connection; or the replay ends without it, and the server
//! never got the request; or the server restarted, or lost frames, and says so; or
//! [`TURN_ANSWER_MS`] passes. Each ends the wait with a message that says what is known.

use super::*;

/// How long the core waits for the server's answer to a `chat_request`
/// (`ai_turn_started` or a refusal) before it stops waiting. The server answers at once;
/// this covers a cut and its reconnects (the backoff tops out at 10 s).
pub const TURN_ANSWER_MS: u64 = 30_000;

/// How a turn is reported whose request the server never received (found after the
/// replay of a resumed connection, which would have carried its answer).
pub const NOT_RECEIVED: &str = "the connection dropped before the server received this turn's request: nothing ran, take the turn again";

/// How a turn still waiting for its answer is reported when the core stops.
pub const STOPPED: &str = "Gold Box was stopped before the server answered this turn's request";

impl Machine {
    pub(super) fn on_server_error(
        &mut self,
        request_id: Option<String>,
        error: ErrorData,
        commands: &mut Vec<Command>,
    ) {
        match request_id {
            Some(request_id) if self.awaiting_turns.remove(&request_id).is_some() => {
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
        self.bound_turn(&request_id, commands);
        if self.awaiting_turns.remove(&request_id).is_some() {
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
        self.end_draft(&request_id, response.stream);
        let privacy = self.privacy.of(&request_id);
        commands.push(Command::Emit(CoreEvent::ChatResponse {
            request_id,
            message: response.message,
            stream: response.stream,
            audience: privacy.audience.as_str(),
            private_context: privacy.private_context,
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
        self.note_turn_end(&request_id, &done, commands);
        self.drop_draft(&request_id, commands);
        commands.push(Command::Emit(CoreEvent::TurnComplete {
            request_id,
            status: done.status,
            error: done.error,
            iterations: done.iterations,
            duration_ms: done.duration_ms,
        }));
    }

    /// Asks for an AI turn with this chat as context (the latest messages, each marked with
    /// whether every player can see it; see [`Machine::read_context`]). A pending settings
    /// change is synced first, on the same socket, so the server applies it before the turn
    /// starts.
    pub fn take_turn(
        &mut self,
        chat: Vec<ContextEntry>,
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
        let request_id = self.turn_request_id();
        self.next_turn += 1;
        self.retry = false;
        let request = ChatRequest {
            messages: self.read_context(&request_id, chat, &mut commands),
            settings_revision: self.settings.revision(),
        };
        self.send(
            ClientFrame::new(ClientMessage::ChatRequest(request))
                .with_request_id(request_id.clone())
                .with_timestamp(now_ms),
            &mut commands,
        );
        self.awaiting_turns
            .insert(request_id.clone(), self.connection);
        commands.push(Command::SetTimer {
            kind: TimerKind::TurnAnswer(request_id.clone()),
            delay_ms: TURN_ANSWER_MS,
        });
        self.show_turn(&mut commands);
        Ok((request_id, commands))
    }

    /// Emits the turn state when it changed: busy from the request until its refusal or
    /// its end (the JS module only renders it).
    pub(super) fn show_turn(&mut self, commands: &mut Vec<Command>) {
        let busy = !self.awaiting_turns.is_empty() || !self.open_turns.is_empty();
        // A stop concerns only turns still followed (one refused, or never received, is
        // not stopping any more).
        let (open, awaiting) = (&self.open_turns, &self.awaiting_turns);
        self.stopping
            .retain(|id| open.contains(id) || awaiting.contains_key(id));
        let view = TurnView {
            busy,
            stopping: busy && !self.stopping.is_empty(),
            retry: !busy && self.retry,
            session_usage: self.session_usage,
        };
        if self.shown_turn.as_ref() != Some(&view) {
            self.shown_turn = Some(view.clone());
            commands.push(Command::Emit(CoreEvent::Turn {
                busy: view.busy,
                stopping: view.stopping,
                retry: view.retry,
                session_usage: view.session_usage,
            }));
        }
    }

    /// The id of the next turn asked for: `turn-<client id>-<load tag>-<n>`.
    pub(super) fn turn_request_id(&self) -> String {
        let mut id = concat(&["turn-", &self.client_id, "-", &self.load_tag, "-"]);
        push_u64(&mut id, self.next_turn);
        id
    }

    /// No answer within the bound: the promise is rejected, and says what may still come.
    /// (The timer of a turn answered in time is left to fire and does nothing.)
    pub(super) fn on_turn_answer_bound(&mut self, request_id: String, commands: &mut Vec<Command>) {
        if self.awaiting_turns.remove(&request_id).is_some() {
            commands.push(Command::SettleTurn {
                request_id,
                outcome: Err({
                    let mut text = String::from("the server did not answer within ");
                    push_u64(&mut text, TURN_ANSWER_MS / 1_000);
                    text.push_str(
                        " s; if it started this turn, its messages will appear when the connection returns",
                    );
                    text
                }),
            });
        }
    }

    /// Rejects the turns whose `chat_request` went out on an earlier connection.
    pub(super) fn settle_earlier_turns(&mut self, reason: &str, commands: &mut Vec<Command>) {
        let connection = self.connection;
        let mut earlier: Vec<String> = Vec::new();
        for (id, sent_on) in self.awaiting_turns.iter() {
            if *sent_on != connection {
                earlier.push(id.clone());
            }
        }
        for request_id in earlier {
            self.awaiting_turns.remove(&request_id);
            commands.push(Command::SettleTurn {
                request_id,
                outcome: Err(reason.to_owned()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;
    use super::*;

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

    fn turn_started(id: &str, seq: u64) -> Input {
        text(format!(
            r#"{{"type":"ai_turn_started","request_id":"{id}","seq":{seq},"data":{{}}}}"#
        ))
    }

    fn sync_id(commands: &[Command]) -> String {
        sent(commands)
            .iter()
            .find(|f| f["type"] == "settings_sync")
            .and_then(|f| f["request_id"].as_str().map(str::to_owned))
            .expect("a settings sync")
    }

    #[test]
    fn request_ids_are_unique_across_a_reload() {
        let mut before = Machine::new("gb-u1-x".into(), 1);
        before
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        before.handle(Input::SocketOpened, NOW);
        let first_sync = sync_id(&before.handle(connected_frame(), NOW));
        let (first_turn, _) = before.take_turn(vec![], NOW).expect("turn");

        // The page reloads a second later, under the same client id.
        let mut after = Machine::new("gb-u1-x".into(), 2);
        after
            .start(config("secret"), Restored::default(), NOW + 1_000)
            .expect("start");
        after.handle(Input::SocketOpened, NOW + 1_000);
        let second_sync = sync_id(&after.handle(connected_frame(), NOW + 1_000));
        let (second_turn, _) = after.take_turn(vec![], NOW + 1_000).expect("turn");
        assert_ne!(first_turn, second_turn);
        assert_ne!(first_sync, second_sync);
        assert!(second_turn.starts_with("turn-gb-u1-x-"), "{second_turn}");
    }

    #[test]
    fn a_turn_answered_while_the_socket_was_down_is_not_reported_as_not_started() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        let closed = machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        assert!(
            settled_turns(&closed).is_empty(),
            "the server may have started it: {closed:?}"
        );
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW + 1_000);
        machine.handle(Input::SocketOpened, NOW + 1_000);
        machine.handle(connected_resumed("a", 1, 0), NOW + 1_000);
        let replayed = machine.handle(turn_started(&request_id, 1), NOW + 1_000);
        assert_eq!(settled_turns(&replayed), vec![(request_id, Ok(()))]);
    }

    #[test]
    fn a_turn_the_server_never_received_is_reported_after_the_replay() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        drop_and_reopen(&mut machine, NOW);
        let resumed = machine.handle(connected_resumed("a", 0, 0), NOW);
        assert_eq!(
            settled_turns(&resumed),
            vec![(request_id, Err(NOT_RECEIVED.to_owned()))]
        );
    }

    #[test]
    fn a_turn_without_an_answer_is_settled_at_its_bound() {
        let mut machine = connected_machine();
        let (request_id, commands) = machine.take_turn(vec![], NOW).expect("turn");
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::TurnAnswer(request_id.clone()),
            delay_ms: TURN_ANSWER_MS
        }));
        let bound = machine.handle(
            Input::Timer(TimerKind::TurnAnswer(request_id.clone())),
            NOW + TURN_ANSWER_MS,
        );
        let settled = settled_turns(&bound);
        assert_eq!(settled.len(), 1);
        assert!(
            matches!(&settled[0], (id, Err(e)) if *id == request_id && e.contains("did not answer")),
            "{settled:?}"
        );
    }

    #[test]
    fn stopping_rejects_a_turn_still_waiting_for_its_answer() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        let stopped = machine.stop();
        assert_eq!(
            settled_turns(&stopped),
            vec![(request_id, Err(STOPPED.to_owned()))]
        );
    }

    fn turn_states(commands: &[Command]) -> Vec<bool> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Emit(CoreEvent::Turn { busy, .. }) => Some(*busy),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_turn_state_is_busy_from_the_request_to_the_end() {
        let mut machine = connected_machine();
        let (request_id, asked) = machine.take_turn(vec![], NOW).expect("turn");
        assert_eq!(turn_states(&asked), [true]);
        let started = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_started","request_id":"{request_id}","data":{{}}}}"#
            )),
            NOW,
        );
        assert!(turn_states(&started).is_empty(), "still busy: no new state");
        let done = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_complete","request_id":"{request_id}","data":{{"status":"completed","iterations":1,"duration_ms":5}}}}"#
            )),
            NOW,
        );
        assert_eq!(turn_states(&done), [false]);
    }

    #[test]
    fn a_refused_turn_is_not_busy() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        let busy = machine.handle(
            text(format!(
                r#"{{"type":"error","request_id":"{request_id}","data":{{"code":"AI_BUSY","message":"busy"}}}}"#
            )),
            NOW,
        );
        assert_eq!(turn_states(&busy), [false]);
    }

    #[test]
    fn a_turn_carries_the_latest_entries_the_setting_asks_for_within_the_budget() {
        let mut machine = connected_machine();
        machine.handle(
            Input::SettingChanged {
                key: "contextMessages".into(),
                value: JsonValue::Integer(2),
            },
            NOW,
        );
        assert_eq!(machine.context_window(), 2);
        let entries: Vec<ContextEntry> = (0..5)
            .map(|i| ContextEntry {
                entry: ChatEntry {
                    speaker: "Aria".into(),
                    content: format!("{i}{}", "x".repeat(3_000)),
                    kind: gold_box_protocol::ChatKind::Chat,
                    timestamp: NOW,
                },
                seen_by_all: true,
            })
            .collect();
        let (_, commands) = machine.take_turn(entries, NOW).expect("turn");
        let request = sent(&commands)
            .into_iter()
            .find(|f| f["type"] == "chat_request")
            .expect("a chat request");
        let messages = request["data"]["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 2);
        let first = messages[0]["content"].as_str().expect("content");
        assert!(
            first.starts_with('3') && first.ends_with('…'),
            "{}",
            &first[..10]
        );
        assert_eq!(first.chars().count(), crate::context::MAX_ENTRY_CHARS);
    }
}
