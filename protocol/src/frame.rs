//! Frames: the envelope `{"type", "request_id"?, "data"?, "timestamp"?}` around each
//! message, and the two message enums (client → server, server → client).
//!
//! Decoding goes through [`RawFrame`], generic over whatever holds the undecoded `data`
//! (`serde_json::Value`, `&RawValue`, …), so that this crate needs no JSON library and
//! the message type is chosen by `type` before `data` is read. That order is what lets
//! an unknown type be told apart from bad data, whatever order the object's keys come in.

use crate::json::{Fields, FromJson, JsonError, JsonWriter, ObjectWriter, ToJson};
use crate::messages::*;
use crate::text::concat;
use crate::{FrameError, JsonValue, MAX_SAFE_INTEGER};
use serde::de::value::{Error as ValueError, MapDeserializer};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A frame whose `data` is not decoded yet.
#[derive(Debug, Clone, Deserialize)]
pub struct RawFrame<D> {
    /// The message type, such as `"ping"`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<u64>,
    /// The delivery sequence number of a session frame (server → client only; see
    /// "Resumable delivery" in docs/PROTOCOL.md). Ignored on client frames.
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub data: Option<D>,
}

/// Reads a payload of type `T` out of `data`; a frame without `data` reads as `{}`.
fn payload<'de, D, T>(type_name: &'static str, data: Option<D>) -> Result<T, FrameError>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let invalid = |reason: String| FrameError::InvalidData { type_name, reason };
    match data {
        Some(data) => T::deserialize(data).map_err(|e| invalid(e.to_string())),
        None => {
            let empty = MapDeserializer::<_, ValueError>::new(std::iter::empty::<(&str, &str)>());
            T::deserialize(empty).map_err(|e| invalid(format!("no `data`: {e}")))
        }
    }
}

/// [`payload`] for the hand-written codec: reads a `T` out of `data`; a frame without
/// `data` reads as `{}`, with the same messages.
fn json_payload<T: FromJson>(
    type_name: &'static str,
    data: Option<&JsonValue>,
) -> Result<T, FrameError> {
    let empty;
    let value = match data {
        Some(data) => data,
        None => {
            empty = JsonValue::default();
            &empty
        }
    };
    T::from_json(value).map_err(|e| invalid_json_data(type_name, e, data.is_none()))
}

/// The error of [`json_payload`], built here once rather than in each payload's copy.
#[inline(never)]
fn invalid_json_data(type_name: &'static str, error: JsonError, no_data: bool) -> FrameError {
    let reason = if no_data {
        concat(&["no `data`: ", &error.message()])
    } else {
        error.message()
    };
    FrameError::InvalidData { type_name, reason }
}

/// Refuses integers JavaScript cannot hold exactly.
fn within_safe_range(
    type_name: &'static str,
    field: &'static str,
    value: u64,
) -> Result<(), FrameError> {
    if value > MAX_SAFE_INTEGER {
        return Err(FrameError::OutOfRange {
            type_name,
            field,
            value,
        });
    }
    Ok(())
}

/// Declares a message enum together with its wire tags, its decoder and the writer
/// of its `data`, so that a tag is spelled in exactly one place.
macro_rules! message_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($payload:ty) = $tag:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($payload), )*
        }

        impl $name {
            /// Every wire tag of this enum.
            pub const TYPES: &'static [&'static str] = &[$($tag),*];

            /// The wire tag (`type`) of this message.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $tag, )*
                }
            }

            fn decode_data<'de, D: Deserializer<'de>>(
                kind: &str,
                data: Option<D>,
            ) -> Result<Self, FrameError> {
                match kind {
                    $( $tag => Ok(Self::$variant(payload($tag, data)?)), )*
                    other => Err(FrameError::UnknownType { type_name: other.to_owned() }),
                }
            }

            /// [`Self::decode_data`] for the hand-written codec.
            fn data_from_json(kind: &str, data: Option<&JsonValue>) -> Result<Self, FrameError> {
                match kind {
                    $( $tag => Ok(Self::$variant(json_payload($tag, data)?)), )*
                    other => Err(FrameError::UnknownType { type_name: other.to_owned() }),
                }
            }

            /// [`Self::serialize_data`] for the hand-written codec.
            fn data_to_json(&self, object: &mut ObjectWriter<'_>) {
                match self {
                    $( Self::$variant(data) => { object.field("data", data); } )*
                }
            }

            fn serialize_data<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                match self {
                    $( Self::$variant(data) => map.serialize_entry("data", data), )*
                }
            }
        }
    };
}

message_enum! {
    /// A message from the Foundry module to the server.
    ClientMessage {
        Connect(Connect) = "connect",
        Ping(Empty) = "ping",
        /// The client has processed every session frame up to `seq` (fast path, no reply).
        Ack(Ack) = "ack",
        SettingsSync(SettingsSync) = "settings_sync",
        RollResult(RollResult) = "roll_result",
        /// A free-form combat snapshot (fast path, no reply).
        CombatState(JsonValue) = "combat_state",
        ChatRequest(ChatRequest) = "chat_request",
        /// Context for the AI's next turn (no reply).
        ChatMessage(JsonValue) = "chat_message",
        /// Context for the AI's next turn (no reply).
        DiceRoll(JsonValue) = "dice_roll",
        /// Context for the AI's next turn (no reply).
        CombatContext(JsonValue) = "combat_context",
        /// Stop the AI turn this frame's `request_id` names (the `chat_request`'s id);
        /// fast path. The turn ends with `ai_turn_complete` status `cancelled`.
        CancelTurn(Empty) = "cancel_turn",
        /// A turn's narration asked for again, answered like a `chat_request`.
        NarrationRegenerate(NarrationRegenerate) = "narration_regenerate",
        /// A turn's narration discarded under review (no reply).
        NarrationDiscard(NarrationDiscard) = "narration_discard",
    }
}

message_enum! {
    /// A message from the server to the Foundry module.
    ServerMessage {
        Connected(Connected) = "connected",
        Pong(Empty) = "pong",
        Error(ErrorData) = "error",
        ExecuteRoll(ExecuteRoll) = "execute_roll",
        RollAck(RollAck) = "roll_ack",
        SettingsAck(SettingsAck) = "settings_ack",
        AiTurnStarted(Empty) = "ai_turn_started",
        ChatResponse(ChatResponse) = "chat_response",
        AiTurnComplete(AiTurnComplete) = "ai_turn_complete",
        /// The roll request this frame's `request_id` names was withdrawn (its turn was
        /// cancelled): do not roll it; a result sent anyway is answered `expired`.
        RollCancelled(RollCancelled) = "roll_cancelled",
        /// A best-effort preview of narration being written (not a session frame).
        NarrationDelta(NarrationDelta) = "narration_delta",
    }
}

impl ClientMessage {
    /// Whether a frame of this type is meaningless without a `request_id`.
    pub fn requires_request_id(&self) -> bool {
        matches!(
            self,
            Self::RollResult(_)
                | Self::ChatRequest(_)
                | Self::CancelTurn(_)
                | Self::NarrationRegenerate(_)
        )
    }

    fn check_ranges(&self) -> Result<(), FrameError> {
        match self {
            Self::SettingsSync(sync) => {
                within_safe_range("settings_sync", "revision", sync.revision)
            }
            Self::ChatRequest(request) => within_safe_range(
                "chat_request",
                "settings_revision",
                request.settings_revision,
            ),
            Self::Ack(ack) => within_safe_range("ack", "seq", ack.seq),
            Self::Connect(Connect {
                resume: Some(resume),
                ..
            }) => within_safe_range("connect", "resume.last_seq", resume.last_seq),
            _ => Ok(()),
        }
    }
}

impl ServerMessage {
    /// Whether a frame of this type is meaningless without a `request_id`.
    pub fn requires_request_id(&self) -> bool {
        matches!(
            self,
            Self::ExecuteRoll(_)
                | Self::RollAck(_)
                | Self::AiTurnStarted(_)
                | Self::ChatResponse(_)
                | Self::AiTurnComplete(_)
                | Self::RollCancelled(_)
                | Self::NarrationDelta(_)
        )
    }

    fn check_ranges(&self) -> Result<(), FrameError> {
        match self {
            Self::SettingsAck(ack) => within_safe_range("settings_ack", "revision", ack.revision),
            Self::NarrationDelta(delta) => {
                within_safe_range("narration_delta", "offset", delta.offset)
            }
            _ => Ok(()),
        }
    }
}

/// Declares a frame type (envelope + message) with its constructors, decoder and writer.
macro_rules! frame_type {
    ($(#[$meta:meta])* $frame:ident($message:ident)) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $frame {
            /// Correlates a request with its answers.
            pub request_id: Option<String>,
            /// Milliseconds since the Unix epoch, set by the sender; informational only.
            pub timestamp: Option<u64>,
            /// The delivery sequence number of a session frame (set by the server only).
            pub seq: Option<u64>,
            pub message: $message,
        }

        impl $frame {
            /// A frame without `request_id` or `timestamp`.
            pub fn new(message: $message) -> Self {
                Self { request_id: None, timestamp: None, seq: None, message }
            }

            /// The same frame, carrying this `request_id`.
            pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
                self.request_id = Some(request_id.into());
                self
            }

            /// The same frame, numbered `seq` in its client's session stream.
            pub fn with_seq(mut self, seq: u64) -> Self {
                self.seq = Some(seq);
                self
            }

            /// The same frame, stamped with this time (ms since the epoch).
            pub fn with_timestamp(mut self, timestamp: u64) -> Self {
                self.timestamp = Some(timestamp);
                self
            }

            /// Decodes a raw frame: the type picks the payload, then the envelope rules
            /// (`request_id` where one is needed, integers below 2^53) are checked.
            pub fn decode<'de, D: Deserializer<'de>>(raw: RawFrame<D>) -> Result<Self, FrameError> {
                let message = $message::decode_data(&raw.kind, raw.data)?;
                Self::checked(message, raw.request_id, raw.timestamp, raw.seq)
            }

            /// Decodes a parsed frame with the hand-written codec (see [`crate::json`]):
            /// the same steps and rules as [`Self::decode`].
            pub fn from_json(value: &JsonValue) -> Result<Self, FrameError> {
                let malformed = |e: JsonError| FrameError::Malformed { reason: e.message() };
                let fields = Fields::of(value).map_err(|_| FrameError::Malformed {
                    reason: "a frame must be a JSON object".into(),
                })?;
                let kind: String = fields.req("type").map_err(malformed)?;
                let request_id = fields.opt("request_id").map_err(malformed)?;
                let timestamp = fields.opt("timestamp").map_err(malformed)?;
                let seq = fields.opt("seq").map_err(malformed)?;
                // `matches!`, not `!=`: a comparison would link `JsonValue`'s deep equality.
                let data = fields.get("data").filter(|data| !matches!(data, JsonValue::Null(())));
                let message = $message::data_from_json(&kind, data)?;
                Self::checked(message, request_id, timestamp, seq)
            }

            /// The envelope rules, once the message is read.
            fn checked(
                message: $message,
                request_id: Option<String>,
                timestamp: Option<u64>,
                seq: Option<u64>,
            ) -> Result<Self, FrameError> {
                let type_name = message.type_name();
                if message.requires_request_id() && request_id.is_none() {
                    return Err(FrameError::MissingRequestId { type_name });
                }
                if let Some(timestamp) = timestamp {
                    within_safe_range(type_name, "timestamp", timestamp)?;
                }
                if let Some(seq) = seq {
                    within_safe_range(type_name, "seq", seq)?;
                }
                message.check_ranges()?;
                Ok(Self { request_id, timestamp, seq, message })
            }
        }

        impl ToJson for $frame {
            /// The fields in the order of the serde `Serialize` below.
            fn write_json(&self, out: &mut JsonWriter) {
                let mut object = out.object();
                object.field("type", &self.message.type_name());
                object.some("request_id", &self.request_id);
                object.some("seq", &self.seq);
                self.message.data_to_json(&mut object);
                object.some("timestamp", &self.timestamp);
                object.end();
            }
        }

        impl Serialize for $frame {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("type", self.message.type_name())?;
                if let Some(request_id) = &self.request_id {
                    map.serialize_entry("request_id", request_id)?;
                }
                if let Some(seq) = self.seq {
                    map.serialize_entry("seq", &seq)?;
                }
                self.message.serialize_data(&mut map)?;
                if let Some(timestamp) = self.timestamp {
                    map.serialize_entry("timestamp", &timestamp)?;
                }
                map.end()
            }
        }
    };
}

frame_type! {
    /// A frame the Foundry module sends.
    ClientFrame(ClientMessage)
}

frame_type! {
    /// A frame the server sends.
    ServerFrame(ServerMessage)
}
