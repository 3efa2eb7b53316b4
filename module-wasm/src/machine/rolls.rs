//! Rolls: an `execute_roll` is rolled once with Foundry's dice, its outcome stored and
//! delivered until the server answers (the delivery steps are decided in
//! [`crate::outbox`]), and a settled id is never rolled again ([`crate::settled`]).

use super::*;

impl Machine {
    /// Puts a stored outcome back into the outbox; a roll the reload interrupted is
    /// reported as not made rather than rolled again.
    pub(super) fn restore(&mut self, stored: StoredRoll, now_ms: u64, commands: &mut Vec<Command>) {
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
            let mut results: Vec<RollOutcome> = Vec::with_capacity(stored.rolls.len());
            for roll in &stored.rolls {
                results.push(RollOutcome {
                    formula: roll.formula.clone(),
                    flavor: roll.flavor.clone(),
                    total: None,
                    dice: Vec::new(),
                    error: Some(INTERRUPTED_ROLL.into()),
                });
            }
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

    /// Drops the settled markers that can no longer matter, from memory and storage.
    pub(super) fn prune_settled(&mut self, now_ms: u64, commands: &mut Vec<Command>) {
        for request_id in self.settled.prune(now_ms) {
            commands.push(Command::DeleteSettled(request_id));
        }
    }

    pub(super) fn on_execute_roll(
        &mut self,
        request_id: String,
        request: ExecuteRoll,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        self.prune_settled(now_ms, commands);
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
            audience: self.rolls_privacy().audience,
        });
    }

    pub(super) fn on_rolled(
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

    pub(super) fn add_to_outbox(
        &mut self,
        entry: OutboxEntry,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
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
    pub(super) fn deliver(&mut self, request_id: &str, step: Step, commands: &mut Vec<Command>) {
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
                commands.push(Command::PostRollResult {
                    request_id: request_id.to_owned(),
                    url: concat(&[&base, "/api/roll-result"]),
                    token: config.token.clone(),
                    body: submission,
                });
            }
            Step::Idle => {}
        }
    }

    /// The server answered, or the deadline passed: the entry is done, whatever the
    /// answer. Its settled marker is stored before the entry leaves storage, so a reload
    /// between the two finds the id settled (and at worst delivers the outcome once more).
    pub(super) fn settle_roll(&mut self, request_id: &str, commands: &mut Vec<Command>) {
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

    pub(super) fn on_roll_ack(
        &mut self,
        request_id: &str,
        ack: RollAck,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        if !self.outbox.contains(request_id) {
            return;
        }
        self.prune_settled(now_ms, commands);
        self.settle_roll(request_id, commands);
        if let Some(error) = ack.error {
            commands.push(Command::Emit(CoreEvent::Error {
                code: ErrorCode::InvalidMessage,
                message: concat(&[
                    "the server refused a roll result (",
                    ack.status.as_str(),
                    "): ",
                    &error,
                ]),
                request_id: Some(request_id.to_owned()),
            }));
        }
    }

    pub(super) fn on_posted(
        &mut self,
        request_id: &str,
        status: Option<u16>,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        match status {
            Some(status) if http_status_answers(status) => {
                self.prune_settled(now_ms, commands);
                self.settle_roll(request_id, commands)
            }
            _ => self.outbox.on_post_failed(request_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;
    use crate::settled::SETTLED_MARGIN_MS;

    #[test]
    pub(super) fn an_execute_roll_stores_a_marker_then_rolls_once() {
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
    pub(super) fn an_outcome_is_stored_before_it_is_sent_and_waits_for_its_ack() {
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
            |c| matches!(c, Command::Send(f) if matches!(f.message, ClientMessage::RollResult(_))),
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
    pub(super) fn a_repeated_execute_roll_resends_the_stored_outcome() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 12.0);
        let again = machine.handle(execute_roll("roll-1"), NOW + 100);
        let frames = sent(&again);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["data"]["results"][0]["total"], 12.0);
        assert!(!again.iter().any(|c| matches!(c, Command::Roll { .. })));
    }

    #[test]
    pub(super) fn an_acknowledged_request_asked_again_is_never_rolled_again() {
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
    pub(super) fn a_settled_marker_leaves_storage_after_its_deadline_plus_the_margin() {
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
    pub(super) fn a_request_past_its_deadline_asked_again_is_never_rolled_again() {
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
    pub(super) fn after_a_reload_an_acknowledged_request_is_never_rolled_again() {
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
    pub(super) fn any_ack_status_removes_the_entry() {
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
    pub(super) fn a_closed_socket_sends_waiting_results_over_http_with_the_token() {
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
        let body = serde_json::to_value(&post.2).expect("json");
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
    pub(super) fn a_failed_post_is_sent_again_after_the_reconnect() {
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
    pub(super) fn after_a_reload_stored_results_are_delivered_and_interrupted_rolls_report_an_error()
     {
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
    pub(super) fn a_result_past_its_deadline_leaves_the_outbox() {
        let mut machine = connected_machine();
        roll_and_finish(&mut machine, "roll-1", 9.0);
        let commands = machine.handle(
            Input::Timer(TimerKind::RollDeadline("roll-1".into())),
            NOW + 30_000,
        );
        assert!(commands.contains(&Command::DeleteOutbox("roll-1".into())));
        assert_eq!(machine.outbox_len(), 0);
    }

    #[test]
    pub(super) fn stopping_while_a_result_waits_for_its_ack_sends_it_over_http() {
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
}
