//! The core's memory over a long session, in a real browser with the core's own global
//! allocator: after a warm-up of 1000 turns, 4000 further turns (a roll, a chat context of
//! up to 40 entries, a streamed narration, the turn's end; each frame decoded from text
//! and each frame sent encoded to text, as the bindings do) must not grow the wasm memory
//! by a single page. Memory only grows,
//! so a heap that fragmented (freed chunks left as holes too small or too scattered to
//! reuse) would show here as new pages.

#![cfg(target_arch = "wasm32")]

use gold_box_protocol::{ChatEntry, ChatKind, JsonMap, RollOutcome, UserInfo, WorldInfo};
use gold_box_wasm::config::CoreConfig;
use gold_box_wasm::effects::{Command, Input};
use gold_box_wasm::machine::{Machine, Restored};
use gold_box_wasm::privacy::ContextEntry;
use gold_box_wasm::wire;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Epoch milliseconds the session starts at.
const START: u64 = 1_764_216_000_000;

fn memory_bytes() -> u32 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .expect("the module's memory")
        .buffer()
        .dyn_into::<js_sys::ArrayBuffer>()
        .expect("an ArrayBuffer")
        .byte_length()
}

fn frame(text: String) -> Input {
    match wire::decode_server_frame(&text) {
        Ok(frame) => Input::Frame(frame),
        Err(reason) => panic!("a test frame does not decode: {reason}"),
    }
}

/// Encodes what the machine sends, as the bindings do, and drops it.
fn send_all(commands: Vec<Command>) {
    for command in commands {
        if let Command::Send(frame) = command {
            std::hint::black_box(wire::encode_client_frame(&frame));
        }
    }
}

/// Text of `len` characters.
fn words(len: usize) -> String {
    "The goblin falls. ".chars().cycle().take(len).collect()
}

/// One turn: a roll asked, rolled and acknowledged, then an AI turn with a streamed
/// narration. Sizes vary with `i`, so allocations of many sizes come and go.
fn turn(machine: &mut Machine, i: usize, now: u64) {
    let roll_id = format!("roll-{i}");
    send_all(machine.handle(
        frame(format!(
            r#"{{"type":"execute_roll","request_id":"{roll_id}","data":{{"rolls":[{{"formula":"1d20+5","flavor":"Attack {i}"}}],"timeout_ms":30000}}}}"#
        )),
        now,
    ));
    send_all(machine.handle(
        Input::Rolled {
            request_id: roll_id.clone(),
            results: vec![RollOutcome {
                formula: "1d20+5".into(),
                flavor: Some(format!("Attack {i}")),
                total: Some((i % 20) as f64 + 6.0),
                dice: vec![],
                error: None,
            }],
        },
        now,
    ));
    send_all(machine.handle(
        frame(format!(
            r#"{{"type":"roll_ack","request_id":"{roll_id}","data":{{"status":"accepted"}}}}"#
        )),
        now,
    ));

    let messages = (0..i % 40)
        .map(|m| ContextEntry {
            entry: ChatEntry {
                speaker: format!("Player {m}"),
                content: words(20 + (i * 37 + m * 11) % 2_000),
                kind: ChatKind::Chat,
                timestamp: now,
            },
            seen_by_all: true,
        })
        .collect();
    let (turn_id, commands) = machine.take_turn(messages, now).expect("a turn starts");
    send_all(commands);
    send_all(machine.handle(
        frame(format!(
            r#"{{"type":"ai_turn_started","request_id":"{turn_id}","data":{{}}}}"#
        )),
        now,
    ));
    let mut offset = 0;
    for d in 0..(i % 8) + 1 {
        let text = words(10 + (i * 13 + d * 29) % 600);
        send_all(machine.handle(
            frame(format!(
                r#"{{"type":"narration_delta","request_id":"{turn_id}","data":{{"stream":1,"offset":{offset},"text":"{text}"}}}}"#
            )),
            now,
        ));
        offset += text.len();
    }
    let content = words(50 + (i * 71) % 6_000);
    send_all(machine.handle(
        frame(format!(
            r#"{{"type":"chat_response","request_id":"{turn_id}","data":{{"message":{{"speaker":"Game Master","content":"{content}","kind":"narration"}},"stream":1}}}}"#
        )),
        now,
    ));
    send_all(machine.handle(
        frame(format!(
            r#"{{"type":"ai_turn_complete","request_id":"{turn_id}","data":{{"status":"completed","iterations":1,"duration_ms":5}}}}"#
        )),
        now,
    ));
}

#[wasm_bindgen_test]
fn long_session_memory_stays_flat() {
    let mut machine = Machine::new("gb-u1-mem".into(), 7);
    let config = CoreConfig {
        server_url: "http://127.0.0.1:8787".into(),
        token: "secret".into(),
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
        settings: JsonMap::new(),
    };
    send_all(
        machine
            .start(config, Restored::default(), START)
            .expect("start"),
    );
    send_all(machine.handle(Input::SocketOpened, START));
    send_all(machine.handle(
        frame(r#"{"type":"connected","data":{"client_id":"gb-u1-mem","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"a"}}"#.into()),
        START,
    ));

    // Turns a second apart: a settled roll's marker is kept for its deadline plus ten
    // minutes, so about 630 markers are alive at any time once the warm-up is over,
    // beside the short-lived frames, contexts and narrations; the machine's own state
    // stays bounded and any growth after the warm-up would be the heap's.
    let before = memory_bytes();
    let mut now = START;
    for i in 0..1_000 {
        now += 1_000;
        turn(&mut machine, i, now);
    }
    let warm = memory_bytes();
    for i in 1_000..5_000 {
        now += 1_000;
        turn(&mut machine, i, now);
    }
    let after = memory_bytes();
    web_sys::console::log_1(
        &format!(
            "wasm memory: {before} bytes at the start, {warm} after 1000 turns, {after} after 5000"
        )
        .into(),
    );
    assert_eq!(
        after, warm,
        "4000 turns after the warm-up grew the wasm memory from {warm} to {after} bytes"
    );
}
