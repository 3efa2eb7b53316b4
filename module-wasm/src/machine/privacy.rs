//! Who sees each turn's output: decided once, when the turn is asked for, from the settings
//! as they are then (the rules are in [`crate::privacy`]), and carried with everything the
//! turn produces: its narration, its dice, its regenerations.

use super::*;

impl Machine {
    /// Fixes the visibility of the turn `request_id` asks for, from the settings now: a
    /// later change of "Who sees the AI" is for the next turn, never this one.
    pub(super) fn fix_turn_privacy(&mut self, request_id: &str) -> TurnPrivacy {
        let audience = Audience::from_setting(self.settings.value(AI_MESSAGE_MODE));
        let private_context = audience == Audience::Gms
            && self.settings.value(INCLUDE_PRIVATE) == Some(&JsonValue::Bool(true));
        let privacy = TurnPrivacy::new(audience, private_context);
        self.privacy.insert(request_id.to_owned(), privacy);
        privacy
    }

    /// Who sees the dice the server asks for now: those of the turn under way (the server
    /// runs one turn at a time); the stricter if more than one is followed, and the GMs
    /// when no turn this page asked for is under way.
    pub(super) fn rolls_privacy(&self) -> TurnPrivacy {
        self.open_turns
            .iter()
            .chain(self.awaiting_turns.keys())
            .map(|id| self.privacy.of(id))
            .reduce(TurnPrivacy::stricter)
            .unwrap_or(TurnPrivacy::UNKNOWN)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

    fn set(machine: &mut Machine, key: &str, value: JsonValue) {
        machine.handle(
            Input::SettingChanged {
                key: key.into(),
                value,
            },
            NOW,
        );
    }

    fn mode(value: &str) -> JsonValue {
        JsonValue::String(value.into())
    }

    fn start(machine: &mut Machine, request_id: &str) {
        machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_started","request_id":"{request_id}","data":{{}}}}"#
            )),
            NOW,
        );
    }

    /// The audience and private mark of the narration the server sends for `request_id`.
    fn narration(machine: &mut Machine, request_id: &str) -> Option<(&'static str, bool)> {
        let commands = machine.handle(
            text(format!(
                r#"{{"type":"chat_response","request_id":"{request_id}","data":{{"message":{{"speaker":"GM","content":"The ruby glints.","kind":"narration"}}}}}}"#
            )),
            NOW,
        );
        commands.iter().find_map(|c| match c {
            Command::Emit(CoreEvent::ChatResponse {
                audience,
                private_context,
                ..
            }) => Some((*audience, *private_context)),
            _ => None,
        })
    }

    fn roll_audience(commands: &[Command]) -> Option<Audience> {
        commands.iter().find_map(|c| match c {
            Command::Roll { audience, .. } => Some(*audience),
            _ => None,
        })
    }

    fn complete(machine: &mut Machine, request_id: &str) {
        machine.handle(
            text(format!(
                r#"{{"type":"ai_turn_complete","request_id":"{request_id}","data":{{"status":"completed","iterations":1,"duration_ms":5}}}}"#
            )),
            NOW,
        );
    }

    #[test]
    fn a_switch_to_public_mid_turn_changes_neither_the_turns_dice_nor_its_words() {
        let mut machine = connected_machine();
        set(&mut machine, AI_MESSAGE_MODE, mode("gm"));
        set(&mut machine, INCLUDE_PRIVATE, JsonValue::Bool(true));
        let (turn, _) = machine.take_turn(vec![], NOW).expect("turn");
        start(&mut machine, &turn);
        set(&mut machine, AI_MESSAGE_MODE, mode("public"));

        let rolled = machine.handle(execute_roll("roll-1"), NOW);
        assert_eq!(roll_audience(&rolled), Some(Audience::Gms));
        assert_eq!(narration(&mut machine, &turn), Some(("gm", true)));
        let preview = machine.handle(
            text(format!(
                r#"{{"type":"narration_delta","request_id":"{turn}","data":{{"stream":2,"offset":0,"text":"The"}}}}"#
            )),
            NOW,
        );
        assert!(preview.iter().any(|c| matches!(
            c,
            Command::Emit(CoreEvent::NarrationDraft {
                audience: "gm",
                private_context: true,
                ..
            })
        )));
        complete(&mut machine, &turn);

        // Its regeneration is written from the same private conversation.
        let (again, _) = machine.regenerate(turn, None, NOW).expect("regenerate");
        start(&mut machine, &again);
        assert_eq!(narration(&mut machine, &again), Some(("gm", true)));
        complete(&mut machine, &again);

        // The next turn follows the setting as it is now.
        let (next, _) = machine.take_turn(vec![], NOW).expect("turn");
        start(&mut machine, &next);
        let rolled = machine.handle(execute_roll("roll-2"), NOW);
        assert_eq!(roll_audience(&rolled), Some(Audience::Everyone));
        assert_eq!(narration(&mut machine, &next), Some(("public", false)));
    }

    #[test]
    fn a_switch_to_the_gms_mid_turn_keeps_a_public_turn_public_and_never_private() {
        let mut machine = connected_machine();
        set(&mut machine, INCLUDE_PRIVATE, JsonValue::Bool(true));
        let (turn, _) = machine.take_turn(vec![], NOW).expect("turn");
        start(&mut machine, &turn);
        set(&mut machine, AI_MESSAGE_MODE, mode("gm"));
        assert_eq!(narration(&mut machine, &turn), Some(("public", false)));
    }

    #[test]
    fn output_of_a_turn_this_page_did_not_ask_for_goes_to_the_gms_as_private() {
        let mut machine = connected_machine();
        // No turn under way: dice the server asks for go to the GMs.
        let rolled = machine.handle(execute_roll("roll-1"), NOW);
        assert_eq!(roll_audience(&rolled), Some(Audience::Gms));
        // A turn an earlier page load asked for (its frames replayed after a reload).
        start(&mut machine, "turn-gb-u1-x-earlier-1");
        assert_eq!(
            narration(&mut machine, "turn-gb-u1-x-earlier-1"),
            Some(("gm", true))
        );
        let (again, _) = machine
            .regenerate("turn-gb-u1-x-earlier-1".into(), None, NOW)
            .expect("regenerate");
        start(&mut machine, &again);
        assert_eq!(narration(&mut machine, &again), Some(("gm", true)));
    }
}
