//! Narration previews: the `narration_delta` frames of a turn made into the text shown so
//! far, for the JS module to show in one chat message updated in place.
//!
//! One preview per turn at a time (a turn's streams come one after the other). A delta is
//! appended when its `offset` equals the characters held, starts the text again at offset
//! 0 (the provider retried), and is ignored otherwise (a frame lost in a cut: the
//! `chat_response` that ends the stream fills the gap). A preview ends when:
//! - the `chat_response` naming its stream arrives: the JS module writes that message's
//!   whole text into the preview's chat message (`ChatResponse.stream`);
//! - a later stream of the turn starts, or the turn completes, without that
//!   `chat_response` (the provider's text was beside a tool call, not narration): the
//!   preview is dropped (`NarrationDropped`).
//!
//! Deltas are best-effort frames without `seq`: a reload forgets previews, and the
//! replayed `chat_response` is posted as a message of its own.

use super::*;
use gold_box_protocol::text::trim;
use gold_box_protocol::{NarrationDelta, NarrationDiscard, NarrationRegenerate};

/// The preview of one turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    stream: u32,
    text: String,
    chars: u64,
}

impl Machine {
    /// Asks the server to write `turn`'s narration again, with the GM's `note` (GM review;
    /// no die is rolled again). Runs as a turn of its own: its request id is returned, and
    /// its answer settles like a `takeAiTurn`'s.
    pub fn regenerate(
        &mut self,
        turn: String,
        note: Option<String>,
        now_ms: u64,
    ) -> Result<(String, Vec<Command>), String> {
        if self.state != ConnectionState::Connected {
            return Err("Gold Box is not connected to its server".into());
        }
        if turn.is_empty() {
            return Err("no turn named to regenerate".into());
        }
        let mut commands = Vec::new();
        let request_id = self.turn_request_id();
        self.next_turn += 1;
        // The new narration is written from the same conversation: it is seen by whom the
        // original turn's output was, whatever the setting says now.
        let privacy = self.privacy.of(&turn);
        self.privacy.insert(request_id.clone(), privacy);
        let note = note.filter(|note| !trim(note).is_empty());
        self.send(
            ClientFrame::new(ClientMessage::NarrationRegenerate(NarrationRegenerate {
                turn,
                note,
            }))
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

    /// Tells the server the GM discarded `turn`'s narration (it forgets the turn). Only a
    /// courtesy to the server's memory: when not connected, nothing is sent (the server
    /// forgets the turn within `--regenerate-keep-ms` anyway).
    pub fn discard(&mut self, turn: String) -> Vec<Command> {
        let mut commands = Vec::new();
        if self.state == ConnectionState::Connected && !turn.is_empty() {
            self.send(
                ClientFrame::new(ClientMessage::NarrationDiscard(NarrationDiscard { turn })),
                &mut commands,
            );
        }
        commands
    }

    pub(super) fn on_narration_delta(
        &mut self,
        request_id: Option<String>,
        delta: NarrationDelta,
        commands: &mut Vec<Command>,
    ) {
        let Some(request_id) = request_id else { return };
        if !self.open_turns.contains(&request_id) {
            // A late delta of a turn that has ended (or was never started here).
            return;
        }
        let current = self.drafts.get(&request_id).map(|draft| draft.stream);
        match current {
            Some(stream) if delta.stream < stream => return,
            Some(stream) if delta.stream > stream => {
                self.drop_draft(&request_id, commands);
            }
            _ => {}
        }
        if !self.drafts.contains_key(&request_id) {
            let draft = Draft {
                stream: delta.stream,
                ..Draft::default()
            };
            self.drafts.insert(request_id.clone(), draft);
        }
        let Some(draft) = self.drafts.get_mut(&request_id) else {
            return;
        };
        if delta.offset == 0 {
            draft.text.clear();
            draft.chars = 0;
        } else if delta.offset != draft.chars {
            return;
        }
        draft.chars += delta.text.chars().count() as u64;
        draft.text.push_str(&delta.text);
        let (stream, text) = (draft.stream, draft.text.clone());
        let privacy = self.privacy.of(&request_id);
        commands.push(Command::Emit(CoreEvent::NarrationDraft {
            request_id,
            stream,
            text,
            audience: privacy.audience.as_str(),
            private_context: privacy.private_context,
        }));
    }

    /// A `chat_response` ends the preview of the stream it names.
    pub(super) fn end_draft(&mut self, request_id: &str, stream: Option<u32>) {
        if let Some(stream) = stream
            && self
                .drafts
                .get(request_id)
                .is_some_and(|draft| draft.stream == stream)
        {
            self.drafts.remove(request_id);
        }
    }

    /// Drops a turn's preview that no `chat_response` ended.
    pub(super) fn drop_draft(&mut self, request_id: &str, commands: &mut Vec<Command>) {
        if let Some(draft) = self.drafts.remove(request_id) {
            commands.push(Command::Emit(CoreEvent::NarrationDropped {
                request_id: request_id.to_owned(),
                stream: draft.stream,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    fn started(machine: &mut Machine) -> String {
        let (request_id, _) = machine.take_turn(vec![], NOW).expect("turn");
        machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_started","request_id":"{request_id}","data":{{}}}}"#
            )),
            NOW,
        );
        request_id
    }

    fn delta(machine: &mut Machine, turn: &str, stream: u32, offset: u64, t: &str) -> Vec<Command> {
        machine.handle(
            text(format!(
                r#"{{"type":"narration_delta","request_id":"{turn}","data":{{"stream":{stream},"offset":{offset},"text":"{t}"}}}}"#
            )),
            NOW,
        )
    }

    fn drafts(commands: &[Command]) -> Vec<(u32, String)> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Emit(CoreEvent::NarrationDraft { stream, text, .. }) => {
                    Some((*stream, text.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn dropped(commands: &[Command]) -> Vec<u32> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Emit(CoreEvent::NarrationDropped { stream, .. }) => Some(*stream),
                _ => None,
            })
            .collect()
    }

    #[test]
    pub(super) fn deltas_grow_one_preview_and_the_chat_response_names_its_stream() {
        let mut machine = connected_machine();
        let turn = started(&mut machine);
        assert_eq!(
            drafts(&delta(&mut machine, &turn, 1, 0, "The torch ")),
            vec![(1, "The torch ".to_owned())]
        );
        assert_eq!(
            drafts(&delta(&mut machine, &turn, 1, 10, "gutters.")),
            vec![(1, "The torch gutters.".to_owned())]
        );
        let done = machine.handle(
            text(format!(
                r#"{{"type":"chat_response","request_id":"{turn}","data":{{"message":{{"speaker":"Game Master","content":"The torch gutters out.","kind":"narration"}},"stream":1}}}}"#
            )),
            NOW,
        );
        let response = done.iter().find_map(|c| match c {
            Command::Emit(CoreEvent::ChatResponse {
                stream, message, ..
            }) => Some((*stream, message.content.clone())),
            _ => None,
        });
        assert_eq!(
            response,
            Some((Some(1), "The torch gutters out.".to_owned()))
        );
        let complete = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_complete","request_id":"{turn}","data":{{"status":"completed","iterations":1,"duration_ms":5}}}}"#
            )),
            NOW,
        );
        assert!(
            dropped(&complete).is_empty(),
            "the ended preview is not dropped"
        );
    }

    #[test]
    pub(super) fn a_regeneration_is_sent_like_a_turn_and_a_discard_names_the_turn() {
        let mut machine = connected_machine();
        let (request_id, commands) = machine
            .regenerate("turn-a".into(), Some("Shorter.".into()), NOW)
            .expect("sent");
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "narration_regenerate");
        assert_eq!(frames[0]["request_id"], request_id.as_str());
        assert_eq!(frames[0]["data"]["turn"], "turn-a");
        assert_eq!(frames[0]["data"]["note"], "Shorter.");
        assert!(commands.iter().any(|command| matches!(
            command,
            Command::Emit(CoreEvent::Turn {
                busy: true,
                stopping: false,
                ..
            })
        )));
        let started = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_started","request_id":"{request_id}","data":{{}}}}"#
            )),
            NOW,
        );
        assert!(started.contains(&Command::SettleTurn {
            request_id,
            outcome: Ok(())
        }));
        let (_, blank) = machine
            .regenerate("turn-a".into(), Some("  ".into()), NOW)
            .expect("sent");
        assert!(
            sent(&blank)[0]["data"].get("note").is_none(),
            "a blank note is no note"
        );
        let discard = sent(&machine.discard("turn-a".into()));
        assert_eq!(discard[0]["type"], "narration_discard");
        assert_eq!(discard[0]["data"]["turn"], "turn-a");
        let mut offline = Machine::new("gb-u1-x".into(), 1);
        assert!(offline.regenerate("turn-a".into(), None, NOW).is_err());
        assert!(offline.discard("turn-a".into()).is_empty());
    }

    #[test]
    pub(super) fn a_gap_is_ignored_and_offset_zero_starts_the_text_again() {
        let mut machine = connected_machine();
        let turn = started(&mut machine);
        delta(&mut machine, &turn, 1, 0, "Half a narr");
        assert!(
            drafts(&delta(&mut machine, &turn, 1, 40, "later")).is_empty(),
            "a delta after a gap changes nothing"
        );
        assert_eq!(
            drafts(&delta(&mut machine, &turn, 1, 0, "")),
            vec![(1, String::new())]
        );
        assert_eq!(
            drafts(&delta(&mut machine, &turn, 1, 0, "Whole.")),
            vec![(1, "Whole.".to_owned())]
        );
    }

    #[test]
    pub(super) fn a_preview_no_chat_response_ended_is_dropped_by_the_next_stream_or_the_end() {
        let mut machine = connected_machine();
        let turn = started(&mut machine);
        delta(&mut machine, &turn, 1, 0, "Let me roll for that.");
        let next = delta(&mut machine, &turn, 3, 0, "The goblin");
        assert_eq!(dropped(&next), vec![1]);
        assert_eq!(drafts(&next), vec![(3, "The goblin".to_owned())]);
        assert!(
            drafts(&delta(&mut machine, &turn, 1, 21, "x")).is_empty(),
            "an old stream"
        );
        let complete = machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_complete","request_id":"{turn}","data":{{"status":"failed","error":"x","iterations":3,"duration_ms":5}}}}"#
            )),
            NOW,
        );
        assert_eq!(dropped(&complete), vec![3]);
        assert!(
            drafts(&delta(&mut machine, &turn, 3, 10, "late")).is_empty(),
            "deltas after the end are ignored"
        );
    }
}
