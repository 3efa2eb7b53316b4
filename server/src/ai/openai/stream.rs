//! The streamed answer of `POST /chat/completions` with `"stream": true`: server-sent
//! events, each `data:` a chunk of the completion, ending with `data: [DONE]`.
//!
//! Two parts, each tested on its own: [`SseParser`] cuts bytes into events (an event may
//! arrive split across reads at any byte), and [`Assembler`] builds the completion from
//! the chunks: text deltas go to the sink as they come, tool-call argument fragments are
//! joined by the call's `index` and handed to the turn only once the answer is whole, and
//! the last chunk's `usage` (asked for with `stream_options.include_usage`) fills
//! `Completion::usage`. A stream that ends before `[DONE]` (or a `finish_reason`) is
//! incomplete: the caller retries it like a failed request.

use super::super::delta::{Delta, Tracked};
use super::super::messages::{Completion, ToolCall, Usage};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Cuts a byte stream into server-sent events (the `data` of each; other fields, comments
/// and lines that name no known field are ignored, as the SSE specification says).
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.line);
                if let Some(event) = self.line_done(&line) {
                    events.push(event);
                }
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    /// The end of the stream: an event not yet closed by a blank line still counts.
    pub fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            let _ = self.line_done(&line);
        }
        self.data.take()
    }

    fn line_done(&mut self, line: &[u8]) -> Option<String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return self.data.take();
        }
        // A whole line, so a character split across reads is whole again here.
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        None
    }
}

/// What one event meant for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    More,
    /// `[DONE]`: the answer is whole.
    Done,
}

/// Why a stream did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A chunk is not JSON of a completion chunk: not worth retrying.
    Invalid(String),
    /// The provider reported an error inside the stream (after the 200 status).
    Provider(String),
    /// The stream ended before the answer was whole: retried like a failed request.
    Incomplete(String),
}

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ChunkToolCall>>,
}

#[derive(Debug, Deserialize)]
struct ChunkToolCall {
    /// Which call this fragment belongs to; servers that send whole calls may leave it out.
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<ChunkFunction>,
}

#[derive(Debug, Deserialize)]
struct ChunkFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Builds one completion from the chunks of a stream.
#[derive(Debug, Default)]
pub struct Assembler {
    content: String,
    refusal: String,
    calls: BTreeMap<u32, PartialCall>,
    usage: Option<Usage>,
    finished: bool,
    done: bool,
}

impl Assembler {
    /// Reads one event's data; text goes to `sink` at once.
    pub fn event(&mut self, data: &str, sink: &Tracked<'_>) -> Result<Step, StreamError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::More);
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            StreamError::Invalid(format!(
                "a streamed chunk is not a completion chunk ({e}): {}",
                super::super::tools::truncate_chars(data, 120)
            ))
        })?;
        if let Some(error) = chunk.error {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| error.to_string());
            return Err(StreamError::Provider(message));
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            });
        }
        // Only the first choice is read (`n` is never asked for).
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if choice.finish_reason.is_some() {
                self.finished = true;
            }
            let Some(delta) = choice.delta else { continue };
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                sink.delta(Delta::Text(&text));
                self.content.push_str(&text);
            }
            if let Some(refusal) = delta.refusal {
                self.refusal.push_str(&refusal);
            }
            for (position, fragment) in delta.tool_calls.unwrap_or_default().into_iter().enumerate()
            {
                sink.delta(Delta::ToolCall);
                let index = fragment
                    .index
                    .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX));
                let call = self.calls.entry(index).or_default();
                if let Some(id) = fragment.id.filter(|id| !id.is_empty()) {
                    call.id = id;
                }
                if let Some(function) = fragment.function {
                    if let Some(name) = function.name {
                        call.name.push_str(&name);
                    }
                    match function.arguments {
                        None | Some(Value::Null) => {}
                        Some(Value::String(text)) => call.arguments.push_str(&text),
                        Some(other) => call.arguments.push_str(&other.to_string()),
                    }
                }
            }
        }
        Ok(Step::More)
    }

    /// The whole answer, once the stream has ended; an answer cut off is `Incomplete`.
    pub fn finish(self) -> Result<Completion, StreamError> {
        if !self.done && !self.finished {
            return Err(StreamError::Incomplete(
                "the streamed answer broke off before it was complete".to_owned(),
            ));
        }
        let content = Some(self.content)
            .filter(|text| !text.trim().is_empty())
            .or_else(|| Some(self.refusal).filter(|text| !text.trim().is_empty()));
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .map(|(position, (_, call))| ToolCall {
                id: if call.id.is_empty() {
                    format!("call_{position}")
                } else {
                    call.id
                },
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        Ok(Completion {
            content,
            tool_calls,
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::delta::recorded::{Recorded, Seen};
    use super::*;

    fn feed(parser: &mut SseParser, pieces: &[&[u8]]) -> Vec<String> {
        pieces.iter().flat_map(|piece| parser.push(piece)).collect()
    }

    #[test]
    fn events_split_across_reads_at_any_byte_are_whole_again() {
        let stream = "data: {\"a\":\"é\"}\n\ndata: [DONE]\n\n".as_bytes();
        for cut in 0..stream.len() {
            let mut parser = SseParser::default();
            let events = feed(&mut parser, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(events, vec!["{\"a\":\"é\"}", "[DONE]"], "cut at {cut}");
        }
    }

    #[test]
    fn crlf_comments_other_fields_and_multi_line_data_follow_the_sse_rules() {
        let mut parser = SseParser::default();
        let events = parser.push(
            b": keep-alive\r\nevent: message\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\nretry\n\n",
        );
        assert_eq!(events, vec!["one\ntwo"]);
        assert_eq!(parser.finish(), None);
    }

    #[test]
    fn an_event_without_its_blank_line_is_read_at_the_end() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: [DONE]").is_empty());
        assert_eq!(parser.finish().as_deref(), Some("[DONE]"));
    }

    fn assemble(events: &[&str]) -> (Result<Completion, StreamError>, Recorded) {
        let recorded = Recorded::default();
        let sink = Tracked::new(&recorded);
        let mut assembler = Assembler::default();
        for event in events {
            if let Err(e) = assembler.event(event, &sink) {
                return (Err(e), recorded);
            }
        }
        (assembler.finish(), recorded)
    }

    #[test]
    fn text_deltas_reach_the_sink_as_they_come_and_the_usage_chunk_is_kept() {
        let (completion, recorded) = assemble(&[
            r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"The door "},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"creaks."},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":31,"completion_tokens":4,"total_tokens":35}}"#,
            "[DONE]",
        ]);
        let completion = completion.expect("a whole answer");
        assert_eq!(completion.content.as_deref(), Some("The door creaks."));
        assert!(completion.tool_calls.is_empty());
        assert_eq!(
            completion.usage,
            Some(Usage {
                prompt_tokens: 31,
                completion_tokens: 4
            })
        );
        assert_eq!(
            recorded.seen(),
            vec![Seen::Text("The door ".into()), Seen::Text("creaks.".into())]
        );
    }

    #[test]
    fn tool_call_fragments_are_joined_by_index_before_the_call_is_handed_out() {
        let (completion, recorded) = assemble(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"roll_dice","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"post_message","arguments":"{\"con"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"rolls\":[{\"for"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"mula\":\"1d20\"}]}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"tent\":\"Hi\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        let completion = completion.expect("a whole answer");
        assert_eq!(
            completion.tool_calls,
            vec![
                ToolCall {
                    id: "call_a".into(),
                    name: "roll_dice".into(),
                    arguments: r#"{"rolls":[{"formula":"1d20"}]}"#.into(),
                },
                ToolCall {
                    id: "call_b".into(),
                    name: "post_message".into(),
                    arguments: r#"{"content":"Hi"}"#.into(),
                },
            ]
        );
        assert_eq!(completion.content, None);
        assert_eq!(completion.usage, None, "no usage chunk, none invented");
        assert!(recorded.text().is_empty(), "tool calls are not narration");
        assert!(recorded.seen().contains(&Seen::ToolCall));
    }

    #[test]
    fn a_stream_cut_before_done_is_incomplete() {
        let (completion, recorded) =
            assemble(&[r#"{"choices":[{"index":0,"delta":{"content":"The door "}}]}"#]);
        assert!(
            matches!(completion, Err(StreamError::Incomplete(_))),
            "{completion:?}"
        );
        assert_eq!(recorded.text(), "The door ");
    }

    #[test]
    fn a_finish_reason_without_done_is_whole() {
        let (completion, _) = assemble(&[
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#,
        ]);
        assert_eq!(completion.expect("whole").content.as_deref(), Some("Hi"));
    }

    #[test]
    fn malformed_chunks_and_errors_in_the_stream_are_refused_with_a_reason() {
        let (completion, _) = assemble(&["{not json"]);
        match completion {
            Err(StreamError::Invalid(reason)) => assert!(reason.contains("{not json"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let (completion, _) = assemble(&[r#"{"error":{"message":"overloaded","code":529}}"#]);
        assert_eq!(
            completion.err(),
            Some(StreamError::Provider("overloaded".into()))
        );
    }
}
