//! The GM in control of a running turn: Stop (`cancel_turn`), the turn's bound, Retry,
//! and what the turns cost.
//!
//! - **Stop.** [`Machine::cancel_turn`] asks the server to stop every turn this tab has
//!   asked for and not seen end. The turn stays shown as running ("stopping") until its
//!   `ai_turn_complete` (status `cancelled`) comes, so the button never claims a stop
//!   the server has not made. Without a socket the cancel is sent after the reconnect.
//! - **Bound.** A running turn cannot outlive the server's own bound on it
//!   (`connected.max_turn_ms`, or [`DEFAULT_MAX_TURN_MS`] from a server that does not say),
//!   plus [`TURN_BOUND_MARGIN_MS`] for the end to travel. When that passes without an
//!   end (the server is unreachable, or gone), the turn is reported as over and the
//!   button returns to idle, with a notice; an end that still comes later is shown too.
//! - **Fate on reconnect.** `connected.turn` tells this client's latest turn as the
//!   server knows it. A turn still running that this tab did not know of (a reload in
//!   the middle of a turn) is shown again, with Stop, and bounded by what it has left.
//! - **Retry.** After a turn that ended `failed` or `timeout` (a stall among them), the
//!   button offers Retry: the same action as taking a turn.
//! - **Usage.** Each end's `usage` and `session_usage` are passed on in one `usage`
//!   event, for the footer of the AI's message and the session total.
//!
//! Turn state lives here and in `turns`; the JS module only renders the `turn` events.

use super::*;
use gold_box_protocol::{TurnFate, TurnFateStatus, TurnStatus};

/// The server's bound on a turn when `connected` does not say (its default
/// `--ai-max-turn-ms`).
pub const DEFAULT_MAX_TURN_MS: u64 = 120_000;
/// Time allowed beyond the server's bound for the turn's end to reach this tab.
pub const TURN_BOUND_MARGIN_MS: u64 = 15_000;

/// How a turn is reported whose bound passed without word from the server.
pub fn bound_passed(bound_ms: u64) -> String {
    let mut text = String::from("no word from the server about this turn within ");
    push_u64(&mut text, bound_ms / 1_000);
    text.push_str(
        " s, longer than the server may run a turn: it is over; take the turn again when the server is back",
    );
    text
}

impl Machine {
    /// Asks the server to stop the turns this tab is following. Idempotent: nothing to
    /// stop, or a stop already asked, sends nothing new.
    pub fn cancel_turn(&mut self, now_ms: u64) -> Vec<Command> {
        let mut commands = Vec::new();
        // Plain loops, here and in the other scans of the machine's maps: each
        // `filter`/`map`/`collect` chain is compiled on its own (about 0.4 KB of .wasm).
        let mut targets: Vec<String> = Vec::new();
        for id in self.open_turns.iter().chain(self.awaiting_turns.keys()) {
            if !self.stopping.contains(id) {
                targets.push(id.clone());
            }
        }
        for request_id in targets {
            self.stopping.insert(request_id.clone());
            if self.state == ConnectionState::Connected {
                self.send_cancel(&request_id, now_ms, &mut commands);
            }
        }
        self.show_turn(&mut commands);
        commands
    }

    fn send_cancel(&self, request_id: &str, now_ms: u64, commands: &mut Vec<Command>) {
        self.send(
            ClientFrame::new(ClientMessage::CancelTurn(Empty {}))
                .with_request_id(request_id.to_owned())
                .with_timestamp(now_ms),
            commands,
        );
    }

    /// After a handshake: a turn the server reports running is followed (again), and a
    /// stop asked while disconnected is sent now.
    pub(super) fn on_turn_fate(
        &mut self,
        fate: Option<TurnFate>,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        if let Some(TurnFate {
            request_id,
            status: TurnFateStatus::Running,
            elapsed_ms,
        }) = fate
            && !self.open_turns.contains(&request_id)
        {
            self.open_turns.insert(request_id.clone());
            let left = self
                .max_turn_ms
                .saturating_sub(elapsed_ms.unwrap_or(0))
                .saturating_add(TURN_BOUND_MARGIN_MS);
            commands.push(Command::SetTimer {
                kind: TimerKind::TurnBound(request_id.clone()),
                delay_ms: left,
            });
            commands.push(Command::Emit(CoreEvent::TurnStarted { request_id }));
        }
        // Every stop still asked: a turn whose start comes in the replay is running on
        // the server now, and one the server never took makes the cancel do nothing.
        let stopping = self.stopping.clone();
        for request_id in stopping.iter() {
            self.send_cancel(request_id, now_ms, commands);
        }
        self.show_turn(commands);
    }

    /// A turn started: it is bounded by the server's own bound on it.
    pub(super) fn bound_turn(&self, request_id: &str, commands: &mut Vec<Command>) {
        commands.push(Command::SetTimer {
            kind: TimerKind::TurnBound(request_id.to_owned()),
            delay_ms: self.max_turn_ms.saturating_add(TURN_BOUND_MARGIN_MS),
        });
    }

    /// The bound passed: a turn still followed is over, whatever the server says later.
    pub(super) fn on_turn_bound(&mut self, request_id: String, commands: &mut Vec<Command>) {
        if !self.open_turns.remove(&request_id) {
            return;
        }
        self.stopping.remove(&request_id);
        self.retry = true;
        commands.push(Command::Emit(CoreEvent::TurnComplete {
            request_id,
            status: TurnStatus::Failed,
            error: Some(bound_passed(
                self.max_turn_ms.saturating_add(TURN_BOUND_MARGIN_MS),
            )),
            iterations: 0,
            duration_ms: 0,
        }));
        self.show_turn(commands);
    }

    /// A turn ended: no longer stopping; Retry after a failure; its usage shown.
    pub(super) fn note_turn_end(
        &mut self,
        request_id: &str,
        done: &AiTurnComplete,
        commands: &mut Vec<Command>,
    ) {
        self.stopping.remove(request_id);
        commands.push(Command::CancelTimer(TimerKind::TurnBound(
            request_id.to_owned(),
        )));
        self.retry = matches!(done.status, TurnStatus::Failed | TurnStatus::Timeout);
        if done.session_usage.is_some() {
            self.session_usage = done.session_usage;
        }
        if done.usage.is_some() || done.session_usage.is_some() {
            commands.push(Command::Emit(CoreEvent::Usage {
                request_id: request_id.to_owned(),
                usage: done.usage,
                session_usage: done.session_usage,
            }));
        }
    }

    /// A withdrawn roll request is never rolled, and a roll under way is not delivered.
    pub(super) fn on_roll_cancelled(&mut self, request_id: String, commands: &mut Vec<Command>) {
        if let Some((deadline_ms, _)) = self.rolling.remove(&request_id) {
            let marker = SettledRoll::new(request_id.clone(), deadline_ms, None);
            commands.push(Command::StoreSettled(marker.clone()));
            self.settled.insert(marker);
            commands.push(Command::DeleteOutbox(request_id));
        } else {
            self.settle_roll(&request_id, commands);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    fn started(machine: &mut Machine) -> String {
        let (id, _) = machine.take_turn(vec![], NOW).expect("turn");
        machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_started","request_id":"{id}","data":{{}}}}"#
            )),
            NOW,
        );
        id
    }

    fn turn_views(commands: &[Command]) -> Vec<(bool, bool, bool)> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Emit(CoreEvent::Turn {
                    busy,
                    stopping,
                    retry,
                    ..
                }) => Some((*busy, *stopping, *retry)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stop_sends_one_cancel_and_the_turn_shows_stopping_until_its_end() {
        let mut machine = connected_machine();
        let id = started(&mut machine);
        let commands = machine.cancel_turn(NOW + 10);
        let frames = sent(&commands);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["type"], "cancel_turn");
        assert_eq!(frames[0]["request_id"], id.as_str());
        assert_eq!(turn_views(&commands), [(true, true, false)]);
        assert!(
            sent(&machine.cancel_turn(NOW + 20)).is_empty(),
            "a second Stop sends nothing"
        );
        let end = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_complete","request_id":"{id}","data":{{"status":"cancelled","error":"stopped by the GM","iterations":1,"duration_ms":40,"usage":{{"prompt_tokens":12,"completion_tokens":0}},"session_usage":{{"prompt_tokens":300,"completion_tokens":40,"estimated_cost":0.002}}}}}}"#
            )),
            NOW + 50,
        );
        assert_eq!(turn_views(&end), [(false, false, false)]);
        assert!(end.iter().any(|c| matches!(
            c,
            Command::Emit(CoreEvent::Usage { usage: Some(u), session_usage: Some(s), .. })
                if u.prompt_tokens == 12 && s.estimated_cost == Some(0.002)
        )));
        assert!(
            sent(&machine.cancel_turn(NOW + 60)).is_empty(),
            "nothing left to stop"
        );
    }

    #[test]
    fn a_failed_turn_offers_retry_until_the_next_turn() {
        let mut machine = connected_machine();
        let id = started(&mut machine);
        let end = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_complete","request_id":"{id}","data":{{"status":"failed","error":"the AI made no progress","iterations":1,"duration_ms":400}}}}"#
            )),
            NOW,
        );
        assert_eq!(turn_views(&end), [(false, false, true)]);
        let (_, commands) = machine.take_turn(vec![], NOW).expect("retry");
        assert_eq!(turn_views(&commands), [(true, false, false)]);
    }

    #[test]
    fn a_turn_without_word_from_the_server_ends_at_the_servers_bound() {
        let mut machine = connected_machine();
        let (id, _) = machine.take_turn(vec![], NOW).expect("turn");
        let start = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_started","request_id":"{id}","data":{{}}}}"#
            )),
            NOW,
        );
        assert!(
            start.contains(&Command::SetTimer {
                kind: TimerKind::TurnBound(id.clone()),
                delay_ms: DEFAULT_MAX_TURN_MS + TURN_BOUND_MARGIN_MS,
            }),
            "a server that does not say has the default bound: {start:?}"
        );
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW + 100,
        );
        let bound = machine.handle(Input::Timer(TimerKind::TurnBound(id.clone())), NOW + 20_000);
        assert!(bound.iter().any(|c| matches!(
            c,
            Command::Emit(CoreEvent::TurnComplete { status: TurnStatus::Failed, error: Some(e), .. })
                if e.contains("no word from the server")
        )));
        assert_eq!(turn_views(&bound), [(false, false, true)]);
    }

    #[test]
    fn a_stop_without_a_socket_is_sent_after_the_reconnect() {
        let mut machine = connected_machine();
        let id = started(&mut machine);
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        assert!(sent(&machine.cancel_turn(NOW)).is_empty());
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW + 1_000);
        machine.handle(Input::SocketOpened, NOW + 1_000);
        let back = machine.handle(connected_frame(), NOW + 1_000);
        let cancels: Vec<_> = sent(&back)
            .into_iter()
            .filter(|f| f["type"] == "cancel_turn")
            .collect();
        assert_eq!(cancels.len(), 1, "{back:?}");
        assert_eq!(cancels[0]["request_id"], id.as_str());
    }

    #[test]
    fn a_stop_of_a_refused_turn_does_not_carry_over_to_the_next() {
        let mut machine = connected_machine();
        let (refused, _) = machine.take_turn(vec![], NOW).expect("turn");
        machine.cancel_turn(NOW);
        let busy = machine.handle(
            text(format!(
                r#"{{"type":"error","request_id":"{refused}","data":{{"code":"AI_BUSY","message":"busy"}}}}"#
            )),
            NOW,
        );
        assert_eq!(turn_views(&busy), [(false, false, false)]);
        let (_, next) = machine.take_turn(vec![], NOW).expect("turn");
        assert_eq!(
            turn_views(&next),
            [(true, false, false)],
            "the next turn is not stopping"
        );
    }

    #[test]
    fn a_reload_mid_turn_shows_the_turn_the_server_still_runs() {
        let mut machine = Machine::new("gb-u1-x".into(), 7);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(
            text(r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"a","max_turn_ms":5000,"turn":{"request_id":"turn-old","status":"running","elapsed_ms":1000}}}"#.into()),
            NOW,
        );
        assert_eq!(turn_views(&commands), [(true, false, false)]);
        assert!(commands.contains(&Command::SetTimer {
            kind: TimerKind::TurnBound("turn-old".into()),
            delay_ms: 4_000 + TURN_BOUND_MARGIN_MS,
        }));
        let stop = machine.cancel_turn(NOW + 5);
        assert_eq!(sent(&stop)[0]["request_id"], "turn-old");
    }

    #[test]
    fn a_withdrawn_roll_under_way_is_never_delivered_nor_rolled_again() {
        let mut machine = connected_machine();
        let execute = text(
            r#"{"type":"execute_roll","request_id":"roll-1","data":{"rolls":[{"formula":"1d20"}],"timeout_ms":30000}}"#.into(),
        );
        machine.handle(execute.clone(), NOW);
        let withdrawn = machine.handle(
            text(
                r#"{"type":"roll_cancelled","request_id":"roll-1","data":{"reason":"stopped"}}"#
                    .into(),
            ),
            NOW + 1,
        );
        assert!(withdrawn.contains(&Command::DeleteOutbox("roll-1".into())));
        let rolled = machine.handle(
            Input::Rolled {
                request_id: "roll-1".into(),
                results: vec![RollOutcome {
                    formula: "1d20".into(),
                    flavor: None,
                    total: Some(12.0),
                    dice: vec![],
                    error: None,
                }],
            },
            NOW + 2,
        );
        assert!(sent(&rolled).is_empty(), "not delivered: {rolled:?}");
        let again = machine.handle(execute, NOW + 3);
        assert!(
            !again.iter().any(|c| matches!(c, Command::Roll { .. })),
            "never rolled again: {again:?}"
        );
    }
}
