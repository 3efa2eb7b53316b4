//! The settings sync: a change shows the pending indicator and is synced after a quiet
//! second (the rules of revisions are in [`crate::settings`]).

use super::*;

impl Machine {
    pub(super) fn on_settings_ack(
        &mut self,
        revision: u64,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        match self.settings.on_ack(revision) {
            AckEffect::Settled => self.show_pending(commands),
            AckEffect::StillPending => {}
            AckEffect::ResyncNow => self.sync_settings(now_ms, commands),
        }
    }

    pub(super) fn on_setting_changed(
        &mut self,
        key: String,
        value: JsonValue,
        now_ms: u64,
        commands: &mut Vec<Command>,
    ) {
        if CONNECTION_KEYS.contains(&key.as_str()) {
            self.reconfigure(&key, value, now_ms, commands);
            return;
        }
        self.settings.change(key, value);
        self.show_pending(commands);
        commands.push(Command::SetTimer {
            kind: TimerKind::SettingsDebounce,
            delay_ms: DEBOUNCE_MS,
        });
    }

    pub(super) fn sync_settings(&mut self, now_ms: u64, commands: &mut Vec<Command>) {
        if self.state != ConnectionState::Connected {
            return;
        }
        let sync = self.settings.next_sync(now_ms);
        let mut request_id = concat(&["sync-", &self.load_tag, "-"]);
        push_u64(&mut request_id, sync.revision);
        self.send(
            ClientFrame::new(ClientMessage::SettingsSync(sync)).with_request_id(request_id),
            commands,
        );
    }

    pub(super) fn show_pending(&mut self, commands: &mut Vec<Command>) {
        let pending = self.settings.pending();
        if self.shown_pending != Some(pending) {
            self.shown_pending = Some(pending);
            commands.push(Command::Emit(CoreEvent::SettingsPending { pending }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::*;

    #[test]
    pub(super) fn the_initial_settings_are_synced_on_connect_without_the_indicator() {
        let mut machine = Machine::new("gb-u1-x".into(), 1);
        machine
            .start(config("secret"), Restored::default(), NOW)
            .expect("start");
        machine.handle(Input::SocketOpened, NOW);
        let commands = machine.handle(connected_frame(), NOW);
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "settings_sync");
        assert_eq!(frames[0]["data"]["settings"]["aiRole"], "dm");
        assert!(!commands.iter().any(|c| matches!(
            c,
            Command::Emit(CoreEvent::SettingsPending { pending: true })
        )));
    }

    #[test]
    pub(super) fn a_change_shows_the_indicator_and_syncs_after_the_debounce_until_acked() {
        let mut machine = connected_machine();
        let change = |value: &str| Input::SettingChanged {
            key: "aiRole".into(),
            value: JsonValue::String(value.into()),
        };
        let first = machine.handle(change("player"), NOW);
        assert!(first.contains(&Command::Emit(CoreEvent::SettingsPending { pending: true })));
        assert!(first.contains(&Command::SetTimer {
            kind: TimerKind::SettingsDebounce,
            delay_ms: DEBOUNCE_MS
        }));
        let second = machine.handle(change("dm_assistant"), NOW + 500);
        assert!(
            !second.contains(&Command::Emit(CoreEvent::SettingsPending { pending: true })),
            "shown once"
        );
        assert!(
            sent(&second).is_empty(),
            "nothing is sent before the quiet second"
        );
        let synced = machine.handle(Input::Timer(TimerKind::SettingsDebounce), NOW + 1_500);
        let revision = last_sync_revision(&synced).expect("a sync");
        assert!(machine.settings_pending());
        let acked = machine.handle(settings_ack(revision), NOW + 1_510);
        assert!(acked.contains(&Command::Emit(CoreEvent::SettingsPending {
            pending: false
        })));
        assert!(!machine.settings_pending());
    }

    #[test]
    pub(super) fn a_change_made_offline_is_synced_on_reconnect() {
        let mut machine = connected_machine();
        machine.handle(
            Input::SocketClosed {
                code: 1006,
                reason: String::new(),
            },
            NOW,
        );
        machine.handle(
            Input::SettingChanged {
                key: "aiRole".into(),
                value: JsonValue::String("player".into()),
            },
            NOW,
        );
        let debounce = machine.handle(Input::Timer(TimerKind::SettingsDebounce), NOW + 1_000);
        assert!(sent(&debounce).is_empty());
        assert!(machine.settings_pending());
        machine.handle(Input::Timer(TimerKind::Reconnect), NOW + 1_000);
        machine.handle(Input::SocketOpened, NOW + 1_000);
        let commands = machine.handle(connected_frame(), NOW + 1_000);
        let frames = sent(&commands);
        assert_eq!(frames[0]["type"], "settings_sync");
        assert_eq!(frames[0]["data"]["settings"]["aiRole"], "player");
    }
}
