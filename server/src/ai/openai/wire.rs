//! The OpenAI chat-completions wire format: the request body we send and the parts of
//! the response we read.
//!
//! This is a second compatibility boundary beside the Foundry protocol, with providers
//! we do not control, so these types stay private to the provider and are read
//! leniently: unknown fields are ignored, and the variations seen among compatible
//! servers are accepted (arguments sent as an object instead of a JSON string, a missing
//! call id, `content` as a list of text parts).

use super::super::messages::{Completion, CompletionRequest, Message, ToolCall, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /chat/completions` body.
#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    /// `"auto"` whenever tools are offered: the model decides between a tool and text.
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    /// Always `true`: the answer comes as server-sent events (see `stream`).
    stream: bool,
    stream_options: StreamOptions,
}

/// `{"include_usage": true}`: the last chunk of the stream carries the token counts.
#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum WireMessage<'a> {
    System {
        content: &'a str,
    },
    User {
        content: &'a str,
    },
    Assistant {
        /// `null` when the model only called tools, as OpenAI itself writes it.
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: &'a str,
    },
}

#[derive(Debug, Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
struct WireFunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Debug, Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Debug, Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

impl<'a> ChatRequest<'a> {
    pub fn new(model: &'a str, request: &'a CompletionRequest) -> ChatRequest<'a> {
        let messages = request
            .messages
            .iter()
            .map(|message| match message {
                Message::System(content) => WireMessage::System { content },
                Message::User(content) => WireMessage::User { content },
                Message::Assistant {
                    content,
                    tool_calls,
                } => WireMessage::Assistant {
                    content: content.as_deref(),
                    tool_calls: tool_calls
                        .iter()
                        .map(|call| WireToolCall {
                            id: &call.id,
                            kind: "function",
                            function: WireFunctionCall {
                                name: &call.name,
                                arguments: &call.arguments,
                            },
                        })
                        .collect(),
                },
                Message::Tool {
                    tool_call_id,
                    content,
                } => WireMessage::Tool {
                    tool_call_id,
                    content,
                },
            })
            .collect();
        let tools: Vec<WireTool<'a>> = request
            .tools
            .iter()
            .map(|tool| WireTool {
                kind: "function",
                function: WireFunction {
                    name: tool.name,
                    description: tool.description,
                    parameters: &tool.parameters,
                },
            })
            .collect();
        let tool_choice = (!tools.is_empty()).then_some("auto");
        ChatRequest {
            model,
            messages,
            tools,
            tool_choice,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
        }
    }
}

#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ResponseUsage>,
}

/// The `usage` object; servers that count differently may leave either field out.
#[derive(Debug, Deserialize)]
struct ResponseUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: ResponseMessage,
}

#[derive(Debug, Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<ResponseToolCall>>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResponseToolCall {
    #[serde(default)]
    id: Option<String>,
    function: ResponseFunction,
}

#[derive(Debug, Deserialize)]
struct ResponseFunction {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

/// Reads a successful response body into a completion, or says why it is not one.
pub fn parse_response(body: &[u8]) -> Result<Completion, String> {
    let response: ChatResponse = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a chat completion ({e})"))?;
    let Some(choice) = response.choices.into_iter().next() else {
        return Err("the answer has no choices".to_owned());
    };
    let message = choice.message;
    let content = message
        .content
        .and_then(content_text)
        .or(message.refusal)
        .filter(|text| !text.trim().is_empty());
    let tool_calls = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, call)| ToolCall {
            id: call
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{index}")),
            name: call.function.name,
            arguments: match call.function.arguments {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text,
                Some(other) => other.to_string(),
            },
        })
        .collect();
    Ok(Completion {
        content,
        tool_calls,
        usage: response.usage.map(|usage| Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }),
    })
}

/// `content` as text: a string, or the text parts of a list.
fn content_text(content: Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text),
        Value::Array(parts) => {
            let text: Vec<&str> = parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect();
            (!text.is_empty()).then(|| text.join(""))
        }
        _ => None,
    }
}

/// The most of a provider's error text quoted to the GM.
const MAX_ERROR_CHARS: usize = 300;

/// The provider's own explanation in an error body (`{"error":{"message":...}}`, or the
/// variants other servers use), else the start of the body.
pub fn error_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| {
            let error = value.get("error");
            error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .or_else(|| error.and_then(Value::as_str))
                .or_else(|| value.get("message").and_then(Value::as_str))
                .or_else(|| value.get("detail").and_then(Value::as_str))
                .map(str::to_owned)
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    if text.is_empty() {
        return "no error message".to_owned();
    }
    super::super::tools::truncate_chars(&text, MAX_ERROR_CHARS)
}

#[cfg(test)]
mod tests {
    use super::super::super::messages::{AiRole, TableView, ToolSpec};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_is_written_as_openai_expects_it() {
        let request = CompletionRequest {
            messages: vec![
                Message::System("be the GM".into()),
                Message::User("[Aria] I attack".into()),
                Message::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "roll_dice".into(),
                        arguments: "{\"rolls\":[]}".into(),
                    }],
                },
                Message::Tool {
                    tool_call_id: "call_1".into(),
                    content: "{\"rolls\":[]}".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "roll_dice",
                description: "Roll",
                parameters: json!({"type": "object"}),
            }],
            table: TableView {
                role: AiRole::Dm,
                ..TableView::default()
            },
        };
        let body = serde_json::to_value(ChatRequest::new("gpt-test", &request)).expect("JSON");
        assert_eq!(
            body,
            json!({
                "model": "gpt-test",
                "messages": [
                    {"role": "system", "content": "be the GM"},
                    {"role": "user", "content": "[Aria] I attack"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function",
                         "function": {"name": "roll_dice", "arguments": "{\"rolls\":[]}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "{\"rolls\":[]}"}
                ],
                "tools": [{"type": "function", "function": {
                    "name": "roll_dice", "description": "Roll", "parameters": {"type": "object"}}}],
                "tool_choice": "auto",
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
    }

    #[test]
    fn a_tool_call_response_is_read() {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": "call_abc", "type": "function",
                     "function": {"name": "roll_dice", "arguments": "{\"rolls\":[{\"formula\":\"1d20\"}]}"}}
                ]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        });
        let completion = parse_response(body.to_string().as_bytes()).expect("a completion");
        assert_eq!(completion.content, None);
        assert_eq!(
            completion.tool_calls,
            vec![ToolCall {
                id: "call_abc".into(),
                name: "roll_dice".into(),
                arguments: "{\"rolls\":[{\"formula\":\"1d20\"}]}".into(),
            }]
        );
        assert_eq!(
            completion.usage,
            Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 5
            })
        );
    }

    #[test]
    fn lenient_variants_of_compatible_servers_are_accepted() {
        let body = json!({"choices": [{"message": {"role": "assistant",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}],
            "tool_calls": [{"function": {"name": "roll_dice", "arguments": {"rolls": []}}}]}}]});
        let completion = parse_response(body.to_string().as_bytes()).expect("a completion");
        assert_eq!(completion.content.as_deref(), Some("Hello there"));
        assert_eq!(completion.tool_calls[0].id, "call_0");
        assert_eq!(completion.tool_calls[0].arguments, "{\"rolls\":[]}");
        assert_eq!(completion.usage, None, "no usage sent, none invented");
    }

    #[test]
    fn bodies_that_are_not_completions_are_refused_with_a_reason() {
        assert!(parse_response(b"<html>").is_err());
        assert!(
            parse_response(b"{\"choices\":[]}")
                .expect_err("no choices")
                .contains("no choices")
        );
    }

    #[test]
    fn error_bodies_yield_the_provider_message() {
        assert_eq!(
            error_message(br#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message(b"Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(b""), "no error message");
    }
}
