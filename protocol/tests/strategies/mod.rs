//! Generators of bad input for the property tests of the decoders: arbitrary JSON,
//! objects shaped like frames (real field names, random types), the documented example
//! frames with random mutations, and texts that are almost JSON.
//!
//! The protocol crate's tests use it as `mod strategies;`; the server's fuzz tests
//! include this same file by path, so that both sides are fed the same kinds of input.

#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

const PROTOCOL_DOC: &str = include_str!("../../../docs/PROTOCOL.md");

/// Every example frame of docs/PROTOCOL.md (client → server and server → client).
pub fn documented_frames() -> Vec<Value> {
    let examples = &PROTOCOL_DOC[PROTOCOL_DOC
        .find("## Examples")
        .expect("an Examples section")..];
    let frames: Vec<Value> = examples
        .lines()
        .filter(|line| line.starts_with(r#"{"type""#))
        .map(|line| serde_json::from_str(line).expect("each example is JSON"))
        .collect();
    assert!(frames.len() >= 20, "the examples were found");
    frames
}

/// The field names the protocol uses, so that random objects often hit real fields.
pub const FIELD_NAMES: &[&str] = &[
    "type",
    "request_id",
    "data",
    "timestamp",
    "client_id",
    "token",
    "protocol",
    "world",
    "user",
    "id",
    "title",
    "system",
    "name",
    "is_gm",
    "revision",
    "settings",
    "results",
    "formula",
    "flavor",
    "total",
    "dice",
    "faces",
    "result",
    "active",
    "error",
    "messages",
    "speaker",
    "content",
    "kind",
    "settings_revision",
    "rolls",
    "timeout_ms",
    "status",
    "code",
    "message",
];

/// Every frame type of both directions, and a few near misses.
pub const TYPE_NAMES: &[&str] = &[
    "connect",
    "ping",
    "settings_sync",
    "roll_result",
    "combat_state",
    "chat_request",
    "chat_message",
    "dice_roll",
    "combat_context",
    "connected",
    "pong",
    "error",
    "execute_roll",
    "roll_ack",
    "settings_ack",
    "ai_turn_started",
    "chat_response",
    "ai_turn_complete",
    "",
    "PING",
    "ping ",
    "roll-result",
];

/// A key: usually one of the protocol's field names, sometimes any string.
pub fn key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
    .boxed()
}

/// A string: usually short and readable, sometimes any Unicode.
pub fn string() -> BoxedStrategy<String> {
    prop_oneof![
        2 => "[a-z0-9_ -]{0,12}",
        1 => prop::sample::select(TYPE_NAMES).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
    .boxed()
}

/// A JSON number, with the edges the protocol cares about (2^53, negatives, floats).
pub fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            0i128,
            1,
            -1,
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            i64::MAX as i128,
            i64::MIN as i128,
            u64::MAX as i128,
        ])
        .prop_map(|n| {
            u64::try_from(n)
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(n as i64))
        }),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![0.5, -0.0, 1e300, -1e-300, 9007199254740992.0, 17.0])
            .prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, nested up to a few levels.
pub fn json_value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed()
}

/// An object with the protocol's field names and random values: what a confused or
/// hostile client might send as `data`.
pub fn object_with_protocol_fields() -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
            json_value(),
        ),
        0..8,
    )
    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
    .boxed()
}

/// An object shaped like a frame: a `type` (usually a real one), maybe a `request_id`
/// and a `timestamp`, and `data` with real field names; every part of a random type.
pub fn frame_shaped() -> BoxedStrategy<Value> {
    (
        prop_oneof![
            4 => prop::sample::select(TYPE_NAMES).prop_map(|t| Value::String(t.to_owned())),
            1 => json_value(),
        ],
        prop::option::of(prop_oneof![
            3 => string().prop_map(Value::String),
            1 => json_value(),
        ]),
        prop::option::of(prop_oneof![3 => number(), 1 => json_value()]),
        prop::option::of(prop_oneof![
            3 => object_with_protocol_fields(),
            1 => json_value(),
        ]),
        prop::option::of((key(), json_value())),
    )
        .prop_map(|(kind, request_id, timestamp, data, extra)| {
            let mut frame = Map::new();
            frame.insert("type".into(), kind);
            if let Some(request_id) = request_id {
                frame.insert("request_id".into(), request_id);
            }
            if let Some(timestamp) = timestamp {
                frame.insert("timestamp".into(), timestamp);
            }
            if let Some(data) = data {
                frame.insert("data".into(), data);
            }
            if let Some((key, value)) = extra {
                frame.insert(key, value);
            }
            Value::Object(frame)
        })
        .boxed()
}

/// One change to a frame: from its `data` (usually) or from the envelope, follow `path`
/// (each step picks a child, modulo the number of children; the walk stops early at a
/// leaf), then replace that node, remove one of its children, or add one.
#[derive(Debug, Clone)]
pub struct Mutation {
    in_data: bool,
    path: Vec<u16>,
    op: u8,
    key: String,
    value: Value,
}

fn mutation() -> BoxedStrategy<Mutation> {
    (
        prop::bool::weighted(0.8),
        prop::collection::vec(any::<u16>(), 0..5),
        0u8..3,
        key(),
        json_value(),
    )
        .prop_map(|(in_data, path, op, key, value)| Mutation {
            in_data,
            path,
            op,
            key,
            value,
        })
        .boxed()
}

fn mutate(frame: &mut Value, mutation: &Mutation) {
    let data = frame.get_mut("data").filter(|_| mutation.in_data);
    match data {
        Some(data) => apply(data, mutation, 0),
        // The envelope: never the whole frame, always one of its fields.
        None => {
            let mut path = mutation.path.clone();
            path.insert(0, path.first().copied().unwrap_or(0));
            let at_envelope = Mutation {
                path,
                ..mutation.clone()
            };
            apply(frame, &at_envelope, 0);
        }
    }
}

fn apply(node: &mut Value, mutation: &Mutation, depth: usize) {
    if let Some(step) = mutation.path.get(depth).map(|s| usize::from(*s)) {
        let child = match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(step % map.len()).cloned();
                key.and_then(|k| map.get_mut(&k))
            }
            Value::Array(items) if !items.is_empty() => {
                let len = items.len();
                items.get_mut(step % len)
            }
            _ => None,
        };
        if let Some(child) = child {
            return apply(child, mutation, depth + 1);
        }
    }
    match (mutation.op, node) {
        (1, Value::Object(map)) if !map.is_empty() => {
            let step = mutation.path.last().map_or(0, |s| usize::from(*s));
            if let Some(key) = map.keys().nth(step % map.len()).cloned() {
                map.remove(&key);
            }
        }
        (1, Value::Array(items)) if !items.is_empty() => {
            let step = mutation.path.last().map_or(0, |s| usize::from(*s));
            let len = items.len();
            items.remove(step % len);
        }
        (2, Value::Object(map)) => {
            map.insert(mutation.key.clone(), mutation.value.clone());
        }
        (2, Value::Array(items)) => items.push(mutation.value.clone()),
        (_, node) => *node = mutation.value.clone(),
    }
}

/// A documented example frame with one to three random mutations: close to valid, so
/// it reaches deep into each message's decoder.
pub fn mutated_example() -> BoxedStrategy<Value> {
    mutated(documented_frames())
}

/// One of `seeds` with one to three random mutations (in its `data` when it has one).
pub fn mutated(seeds: Vec<Value>) -> BoxedStrategy<Value> {
    (
        prop::sample::select(seeds),
        prop::collection::vec(mutation(), 1..4),
    )
        .prop_map(|(mut value, mutations)| {
            for mutation in &mutations {
                mutate(&mut value, mutation);
            }
            value
        })
        .boxed()
}

/// JSON text damaged: cut short, or with a character put in at some place.
pub fn almost_json() -> BoxedStrategy<String> {
    (
        mutated_example(),
        any::<prop::sample::Index>(),
        prop::option::of(any::<char>()),
    )
        .prop_map(|(frame, at, insert)| {
            let text = frame.to_string();
            let mut cut = at.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            match insert {
                Some(c) => format!("{}{c}{}", &text[..cut], &text[cut..]),
                None => text[..cut].to_owned(),
            }
        })
        .boxed()
}

/// Text a peer might send as one frame: any of the above, or any string at all.
pub fn frame_text() -> BoxedStrategy<String> {
    prop_oneof![
        2 => mutated_example().prop_map(|v| v.to_string()),
        2 => frame_shaped().prop_map(|v| v.to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => almost_json(),
        1 => any::<String>(),
    ]
    .boxed()
}
