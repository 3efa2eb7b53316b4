//! What the machine's tests share: a configuration, frames as the server writes them,
//! and readers of the commands.

use super::*;
use gold_box_protocol::{UserInfo, WorldInfo};
use std::collections::BTreeMap;

/// A server frame as the bindings hand it over, decoded from its text.
pub fn text(json: String) -> Input {
    match crate::wire::decode_server_frame(&json) {
        Ok(frame) => Input::Frame(frame),
        Err(reason) => Input::UnreadableFrame(reason),
    }
}

/// The wall clock the tests run at (epoch ms).
pub const NOW: u64 = 1_764_216_000_000;

pub fn config(token: &str) -> CoreConfig {
    CoreConfig {
        server_url: "http://127.0.0.1:8787".into(),
        token: token.into(),
        world: WorldInfo {
            id: "w".into(),
            title: "World".into(),
            system: "dnd5e".into(),
        },
        user: UserInfo {
            id: "u1".into(),
            name: "GM".into(),
            is_gm: true,
        },
        settings: JsonMap::from([("aiRole".to_owned(), JsonValue::String("dm".into()))]),
    }
}

pub fn connected_frame() -> Input {
    text(
            r#"{"type":"connected","data":{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"a"}}"#.into(),
        )
}

pub fn states(commands: &[Command]) -> Vec<ConnectionState> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Emit(CoreEvent::State { state, .. }) => Some(*state),
            _ => None,
        })
        .collect()
}

pub fn sent(commands: &[Command]) -> Vec<serde_json::Value> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Send(frame) => serde_json::to_value(frame).ok(),
            _ => None,
        })
        .collect()
}

pub fn reconnect_delay(commands: &[Command]) -> Option<u64> {
    commands.iter().find_map(|c| match c {
        Command::SetTimer {
            kind: TimerKind::Reconnect,
            delay_ms,
        } => Some(*delay_ms),
        _ => None,
    })
}

pub fn connected_machine() -> Machine {
    let mut machine = Machine::new("gb-u1-x".into(), 7);
    machine
        .start(config("secret"), Restored::default(), NOW)
        .expect("start");
    machine.handle(Input::SocketOpened, NOW);
    machine.handle(connected_frame(), NOW);
    machine
}

pub fn execute_roll(id: &str) -> Input {
    text(format!(
        r#"{{"type":"execute_roll","request_id":"{id}","data":{{"rolls":[{{"formula":"1d20+5","flavor":"Attack"}}],"timeout_ms":30000}}}}"#
    ))
}

pub fn outcome(total: f64) -> Vec<RollOutcome> {
    vec![RollOutcome {
        formula: "1d20+5".into(),
        flavor: Some("Attack".into()),
        total: Some(total),
        dice: vec![],
        error: None,
    }]
}

/// The server asks for `id` and Foundry's dice answer with `total`.
pub fn roll_and_finish(machine: &mut Machine, id: &str, total: f64) -> Vec<Command> {
    machine.handle(execute_roll(id), NOW);
    machine.handle(
        Input::Rolled {
            request_id: id.into(),
            results: outcome(total),
        },
        NOW,
    )
}

pub fn roll_ack(id: &str, status: &str) -> Input {
    text(format!(
        r#"{{"type":"roll_ack","request_id":"{id}","data":{{"status":"{status}"}}}}"#
    ))
}

pub fn position(commands: &[Command], test: impl Fn(&Command) -> bool) -> usize {
    commands
        .iter()
        .position(test)
        .expect("the command is there")
}

/// The tab's storage as the commands leave it, read back by `Machine::start` after a
/// reload.
#[derive(Default)]
pub struct FakeStorage {
    pub outbox: BTreeMap<String, StoredRoll>,
    pub settled: BTreeMap<String, SettledRoll>,
    pub resume: Option<ResumePoint>,
}

impl FakeStorage {
    pub fn apply(&mut self, commands: &[Command]) {
        for command in commands {
            match command {
                Command::StoreOutbox(entry) => {
                    self.outbox.insert(entry.request_id.clone(), entry.clone());
                }
                Command::DeleteOutbox(id) => {
                    self.outbox.remove(id);
                }
                Command::StoreSettled(marker) => {
                    self.settled
                        .insert(marker.request_id.clone(), marker.clone());
                }
                Command::DeleteSettled(id) => {
                    self.settled.remove(id);
                }
                Command::StoreResume(point) => self.resume = Some(point.clone()),
                _ => {}
            }
        }
    }

    pub fn restored(&self) -> Restored {
        Restored {
            outbox: self.outbox.values().cloned().collect(),
            settled: self.settled.values().cloned().collect(),
            resume: self.resume.clone(),
        }
    }
}

pub fn rolls_made(commands: &[Command]) -> usize {
    commands
        .iter()
        .filter(|c| matches!(c, Command::Roll { .. }))
        .count()
}

pub fn settings_ack(revision: u64) -> Input {
    text(format!(
        r#"{{"type":"settings_ack","data":{{"revision":{revision}}}}}"#
    ))
}

pub fn last_sync_revision(commands: &[Command]) -> Option<u64> {
    sent(commands)
        .iter()
        .rev()
        .find(|f| f["type"] == "settings_sync")
        .and_then(|f| f["data"]["revision"].as_u64())
}

/// A `connected` from server start `instance`, answering a resume with `replayed` and
/// `missed` frames.
pub fn connected_resumed(instance: &str, replayed: u64, missed: u64) -> Input {
    text(format!(
        r#"{{"type":"connected","data":{{"client_id":"gb-u1-x","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"{instance}","resume":{{"replayed":{replayed},"missed":{missed}}}}}}}"#
    ))
}

/// The socket drops and the reconnect timer fires and the new socket opens.
pub fn drop_and_reopen(machine: &mut Machine, now_ms: u64) {
    machine.handle(
        Input::SocketClosed {
            code: 1006,
            reason: String::new(),
        },
        now_ms,
    );
    machine.handle(Input::Timer(TimerKind::Reconnect), now_ms);
    machine.handle(Input::SocketOpened, now_ms);
}

/// The promise settlements among the commands.
pub fn settled_turns(commands: &[Command]) -> Vec<(String, Result<(), String>)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::SettleTurn {
                request_id,
                outcome,
            } => Some((request_id.clone(), outcome.clone())),
            _ => None,
        })
        .collect()
}
