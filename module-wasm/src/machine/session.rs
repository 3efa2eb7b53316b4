//! The client side of resumable delivery (docs/PROTOCOL.md, "Resumable delivery").
//!
//! The server numbers its session frames (`ai_turn_started`, `chat_response`,
//! `ai_turn_complete`, the `AI_BUSY` refusal) with `seq` and keeps each one until the
//! client acknowledges it. The core:
//! - sends `connect.resume {instance, last_seq}` from a [`ResumePoint`] kept in the tab's
//!   storage, so a page reload resumes too;
//! - processes a session frame only if its `seq` is above the last one processed, and
//!   sends `ack {seq}` for every session frame, repeats included;
//! - starts over at 0 when `connected.instance` changes (a restarted server numbers anew);
//! - after `connected.resume.missed > 0`, ends the turns it was following with a message
//!   that says their outcome is unknown.
//!
//! Persistence order, so that a narration is never posted twice: the new `last_seq` is
//! stored *before* the frame's events reach the JS module, and the ack is sent after.
//! A reload right after the JS module posted a narration therefore resumes above it.
//! The price is the other side of the same window: a reload between the store and
//! Foundry taking the chat message loses that one message rather than doubling it. The
//! store, the event and the call that creates the message run in one JavaScript task,
//! which a reload cannot split, so the window is only Foundry's own asynchronous write.

use super::*;
use gold_box_protocol::json_struct;

/// How a turn is ended whose frames the server no longer keeps.
pub const MISSED_OUTPUT: &str = "the connection was lost for longer than the server keeps a turn's messages: some are lost, and how this turn ended is unknown";

/// Where the client's record of the session stream ends, as the tab's storage keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumePoint {
    /// The `connected.instance` of the server last heard from.
    pub instance: Option<String>,
    /// The highest `seq` processed from that instance (0: none).
    pub last_seq: u64,
}

// Its JSON, as the serde derive wrote it before (a point stored by an older version of
// the module still reads).
json_struct!(ResumePoint {
    instance: null,
    last_seq: req,
});

/// How turns are reported that were waiting on a server without resumable delivery:
/// what it wrote into the dropped socket is gone.
pub const NO_RESUME: &str =
    "the connection dropped before the turn started; if the server ran it, its messages were lost";

impl Machine {
    /// A frame numbered `seq`: processed if it is new, acknowledged either way.
    pub(super) fn on_session_frame(
        &mut self,
        seq: u64,
        frame: ServerFrame,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        if seq > self.resume.last_seq {
            // Stored before the frame's events reach the page (see the module docs).
            self.resume.last_seq = seq;
            commands.push(Command::StoreResume(self.resume.clone()));
            self.dispatch(frame, now_ms, commands);
        }
        self.send(ClientFrame::new(ClientMessage::Ack(Ack { seq })), commands);
        if let Some(left) = self.replay_left {
            if left <= 1 {
                self.replay_left = None;
                self.replay_done(commands);
            } else {
                self.replay_left = Some(left - 1);
            }
        }
    }

    /// `connected.resume`: what the server kept for this client.
    pub(super) fn on_resumed(&mut self, resumed: Option<Resumed>, commands: &mut Vec<Command>) {
        let Some(resumed) = resumed else {
            // A server without resumable delivery: nothing is replayed.
            self.replay_left = None;
            self.settle_earlier_turns(NO_RESUME, commands);
            return;
        };
        if resumed.missed > 0 {
            self.end_followed_turns(commands);
        }
        if resumed.replayed == 0 {
            self.replay_done(commands);
        } else {
            self.replay_left = Some(resumed.replayed);
        }
    }

    /// The replay is over. The server answers every `chat_request` at once with a session
    /// frame it keeps until acknowledged, so a turn asked for on an earlier connection
    /// that is still unanswered now never reached the server. (A request the server read
    /// only after this handshake would be misreported; the old socket's data is read
    /// within milliseconds, long before a reconnect completes.)
    fn replay_done(&mut self, commands: &mut Vec<Command>) {
        self.settle_earlier_turns(NOT_RECEIVED, commands);
    }

    /// Frames the server no longer keeps: the turns being followed end, truthfully
    /// unknown.
    fn end_followed_turns(&mut self, commands: &mut Vec<Command>) {
        for request_id in std::mem::take(&mut self.open_turns) {
            commands.push(Command::Emit(CoreEvent::TurnComplete {
                request_id,
                status: gold_box_protocol::TurnStatus::Failed,
                error: Some(MISSED_OUTPUT.into()),
                iterations: 0,
                duration_ms: 0,
            }));
        }
        self.settle_earlier_turns(MISSED_OUTPUT, commands);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    fn chat_response(id: &str, seq: u64) -> Input {
        text(format!(
            r#"{{"type":"chat_response","request_id":"{id}","seq":{seq},"data":{{"message":{{"speaker":"GM","content":"The goblin falls.","kind":"narration"}}}}}}"#
        ))
    }

    fn turn_started(id: &str, seq: u64) -> Input {
        text(format!(
            r#"{{"type":"ai_turn_started","request_id":"{id}","seq":{seq},"data":{{}}}}"#
        ))
    }

    fn acks(commands: &[Command]) -> Vec<u64> {
        sent(commands)
            .iter()
            .filter(|f| f["type"] == "ack")
            .filter_map(|f| f["data"]["seq"].as_u64())
            .collect()
    }

    fn narrations(commands: &[Command]) -> usize {
        commands
            .iter()
            .filter(|c| matches!(c, Command::Emit(CoreEvent::ChatResponse { .. })))
            .count()
    }

    fn connect_resume(commands: &[Command]) -> serde_json::Value {
        let frames = sent(commands);
        assert_eq!(frames[0]["type"], "connect");
        frames[0]["data"]["resume"].clone()
    }

    #[test]
    fn the_first_connect_asks_to_resume_from_nothing() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        let opened = machine.handle(Input::SocketOpened, NOW);
        assert_eq!(
            connect_resume(&opened),
            serde_json::json!({"instance": null, "last_seq": 0})
        );
    }

    #[test]
    fn a_session_frame_is_processed_once_and_acknowledged_each_time() {
        let mut machine = connected_machine();
        let first = machine.handle(chat_response("turn-1", 5), NOW);
        assert_eq!(narrations(&first), 1);
        assert_eq!(acks(&first), vec![5]);
        let replayed = machine.handle(chat_response("turn-1", 5), NOW);
        assert_eq!(
            narrations(&replayed),
            0,
            "a replayed frame is not shown again"
        );
        assert_eq!(acks(&replayed), vec![5], "and acknowledged again");
        let older = machine.handle(chat_response("turn-1", 4), NOW);
        assert_eq!(narrations(&older), 0);
        assert_eq!(acks(&older), vec![4]);
        let next = machine.handle(chat_response("turn-1", 6), NOW);
        assert_eq!(narrations(&next), 1);
    }

    #[test]
    fn a_reconnect_resumes_from_the_last_processed_frame() {
        let mut machine = connected_machine();
        machine.handle(chat_response("turn-1", 7), NOW);
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW);
        let opened = machine.handle(Input::SocketOpened, NOW);
        assert_eq!(
            connect_resume(&opened),
            serde_json::json!({"instance": "a", "last_seq": 7})
        );
    }

    #[test]
    fn a_reload_resumes_from_the_tabs_storage() {
        let mut storage = FakeStorage::default();
        let mut machine = Machine::new("gb-u1-x".into(), 7);
        storage.apply(
            &machine
                .start(config("secret"), Restored::default(), NOW)
                .expect("start"),
        );
        storage.apply(&machine.handle(Input::SocketOpened, NOW));
        storage.apply(&machine.handle(connected_frame(), NOW));
        storage.apply(&machine.handle(chat_response("turn-1", 7), NOW));
        drop(machine);

        let mut reloaded = Machine::new("gb-u1-x".into(), 8);
        reloaded
            .start(config("secret"), storage.restored(), NOW + 1_000)
            .expect("start");
        let opened = reloaded.handle(Input::SocketOpened, NOW + 1_000);
        assert_eq!(
            connect_resume(&opened),
            serde_json::json!({"instance": "a", "last_seq": 7})
        );
        reloaded.handle(connected_resumed("a", 1, 0), NOW + 1_000);
        let replayed = reloaded.handle(chat_response("turn-1", 7), NOW + 1_000);
        assert_eq!(
            narrations(&replayed),
            0,
            "posted before the reload: not again"
        );
        assert_eq!(acks(&replayed), vec![7]);
    }

    #[test]
    fn last_seq_is_stored_before_the_narration_reaches_the_page_and_acked_after() {
        let mut machine = connected_machine();
        let commands = machine.handle(chat_response("turn-1", 5), NOW);
        let stored = position(
            &commands,
            |c| matches!(c, Command::StoreResume(point) if point.last_seq == 5),
        );
        let shown = position(&commands, |c| {
            matches!(c, Command::Emit(CoreEvent::ChatResponse { .. }))
        });
        let acked = position(
            &commands,
            |c| matches!(c, Command::Send(f) if matches!(f.message, ClientMessage::Ack(_))),
        );
        assert!(stored < shown && shown < acked, "{commands:?}");
    }

    #[test]
    fn a_restarted_server_starts_the_count_over() {
        let mut machine = connected_machine();
        machine.handle(chat_response("turn-1", 7), NOW);
        drop_and_reopen(&mut machine, NOW);
        let restarted = machine.handle(connected_resumed("b", 0, 0), NOW);
        assert!(restarted.contains(&Command::StoreResume(ResumePoint {
            instance: Some("b".into()),
            last_seq: 0
        })));
        let first = machine.handle(chat_response("turn-2", 1), NOW);
        assert_eq!(narrations(&first), 1, "seq 1 of the new server is new");
    }

    #[test]
    fn frames_lost_for_good_end_the_followed_turn_with_an_unknown_outcome() {
        let mut machine = connected_machine();
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        machine.handle(turn_started(&request_id, 1), NOW);
        drop_and_reopen(&mut machine, NOW);
        let resumed = machine.handle(connected_resumed("a", 0, 3), NOW);
        assert!(
            resumed.iter().any(|c| matches!(
                c,
                Command::Emit(CoreEvent::TurnComplete { request_id: id, status: gold_box_protocol::TurnStatus::Failed, error: Some(e), .. })
                    if *id == request_id && e == MISSED_OUTPUT
            )),
            "{resumed:?}"
        );
    }
}
