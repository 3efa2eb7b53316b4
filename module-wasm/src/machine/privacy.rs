//! What the AI may read of the chat, and who sees each turn's output: decided once, when the
//! turn is asked for, from the settings as they are then (the rules are in
//! [`crate::privacy`]), and carried with everything the turn produces: its narration, its
//! dice, its regenerations.

use super::*;

impl Machine {
    /// How many of the latest chat messages the JS module hands over for a turn: the
    /// window, with room for private ones that may be left out.
    pub fn context_scan(&self) -> usize {
        crate::privacy::scan(self.context_window())
    }

    /// The context the turn `request_id` carries, from the chat the JS module handed over,
    /// and the turn's visibility, fixed from the settings now (a later change of "Who sees
    /// the AI" is for the next turn, never this one). Private messages are kept only when
    /// the output is for the GMs and the GM allowed it; how many were left out goes to the
    /// debug log.
    pub(super) fn read_context(
        &mut self,
        request_id: &str,
        chat: Vec<ContextEntry>,
        commands: &mut Vec<Command>,
    ) -> Vec<ChatEntry> {
        let audience = Audience::from_setting(self.settings.value(AI_MESSAGE_MODE));
        let allowed = private_allowed(audience, self.settings.value(INCLUDE_PRIVATE));
        let selected = select(chat, self.context_window(), allowed);
        if selected.left_out > 0 {
            commands.push(Command::Debug(left_out_note(selected.left_out)));
        }
        let privacy = TurnPrivacy::new(audience, selected.private_kept);
        self.privacy.insert(request_id.to_owned(), privacy);
        crate::context::fit(selected.entries, self.context_window())
    }

    /// Who sees the dice the server asks for now: those of the turn under way (the server
    /// runs one turn at a time); the stricter if more than one is followed, and the GMs
    /// when no turn this page asked for is under way.
    pub(super) fn rolls_privacy(&self) -> TurnPrivacy {
        // A plain loop: an iterator chain is compiled on its own.
        let mut privacy = None;
        for id in self.open_turns.iter().chain(self.awaiting_turns.keys()) {
            let this = self.privacy.of(id);
            privacy = Some(match privacy {
                Some(before) => TurnPrivacy::stricter(before, this),
                None => this,
            });
        }
        privacy.unwrap_or(TurnPrivacy::UNKNOWN)
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

    fn line(content: &str, seen_by_all: bool) -> ContextEntry {
        ContextEntry {
            entry: ChatEntry {
                speaker: "Bram".into(),
                content: content.into(),
                kind: gold_box_protocol::ChatKind::Chat,
                timestamp: NOW,
            },
            seen_by_all,
        }
    }

    fn table() -> Vec<ContextEntry> {
        vec![
            line("I search the shelves.", true),
            line("SECRET: I pocket the ruby.", false),
            line("BLIND: Stealth 1d20+7 = 19", false),
        ]
    }

    /// The contents of the `chat_request` among `commands`.
    fn sent_context(commands: &[Command]) -> Vec<String> {
        let request = sent(commands)
            .into_iter()
            .find(|f| f["type"] == "chat_request")
            .expect("a chat_request");
        request["data"]["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn debug_lines(commands: &[Command]) -> Vec<&str> {
        commands
            .iter()
            .filter_map(|c| match c {
                Command::Debug(line) => Some(line.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_ai_reads_only_what_every_player_can_see_and_the_log_counts_the_rest() {
        let mut machine = connected_machine();
        let (_, commands) = machine.take_turn(table(), NOW).expect("turn");
        assert_eq!(sent_context(&commands), ["I search the shelves."]);
        let lines = debug_lines(&commands);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("left out 2 private message(s)"),
            "{lines:?}"
        );
        // The count is logged, never sent.
        let frames = format!("{:?}", sent(&commands));
        assert!(!frames.contains("left out") && !frames.contains("SECRET"));
    }

    #[test]
    fn allowing_private_messages_changes_nothing_while_the_output_is_public() {
        let mut machine = connected_machine();
        set(&mut machine, INCLUDE_PRIVATE, JsonValue::Bool(true));
        let (turn, commands) = machine.take_turn(table(), NOW).expect("turn");
        assert_eq!(sent_context(&commands), ["I search the shelves."]);
        start(&mut machine, &turn);
        assert_eq!(narration(&mut machine, &turn), Some(("public", false)));
    }

    #[test]
    fn with_output_for_the_gms_and_private_messages_allowed_the_ai_reads_them_and_the_turn_is_private()
     {
        let mut machine = connected_machine();
        set(&mut machine, AI_MESSAGE_MODE, mode("gm"));
        let (turn, commands) = machine.take_turn(table(), NOW).expect("turn");
        assert_eq!(
            sent_context(&commands),
            ["I search the shelves."],
            "GM-only output alone does not let private messages in"
        );
        start(&mut machine, &turn);
        assert_eq!(narration(&mut machine, &turn), Some(("gm", false)));

        set(&mut machine, INCLUDE_PRIVATE, JsonValue::Bool(true));
        let (turn, commands) = machine.take_turn(table(), NOW).expect("turn");
        assert_eq!(sent_context(&commands).len(), 3);
        assert!(debug_lines(&commands).is_empty());
        start(&mut machine, &turn);
        assert_eq!(narration(&mut machine, &turn), Some(("gm", true)));
    }

    #[test]
    fn the_js_module_is_asked_for_more_messages_than_the_turn_carries() {
        let mut machine = connected_machine();
        set(&mut machine, "contextMessages", JsonValue::Integer(2));
        assert_eq!(machine.context_scan(), 8);
        let mut chat: Vec<ContextEntry> = (0..6).map(|i| line(&i.to_string(), true)).collect();
        chat.push(line("SECRET", false));
        let (_, commands) = machine.take_turn(chat, NOW).expect("turn");
        assert_eq!(sent_context(&commands), ["4", "5"]);
    }

    #[test]
    fn a_switch_to_public_mid_turn_changes_neither_the_turns_dice_nor_its_words() {
        let mut machine = connected_machine();
        set(&mut machine, AI_MESSAGE_MODE, mode("gm"));
        set(&mut machine, INCLUDE_PRIVATE, JsonValue::Bool(true));
        let (turn, _) = machine.take_turn(table(), NOW).expect("turn");
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
