//! Provider-neutral conversation types: what the turn loop sends a provider and what a
//! provider answers.
//!
//! The turn loop, the tools and the offline provider speak only these types; the OpenAI
//! wire format is translated at the edge (`openai::wire`). That keeps a second HTTP
//! dialect (or a change in OpenAI's) out of the loop.

use gold_box_protocol::ChatEntry;

/// One message of the conversation with the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Instructions: the role's prompt and what the table looks like.
    System(String),
    /// What the table said (the chat transcript).
    User(String),
    /// The model's own earlier answer: text, tool calls, or both.
    Assistant {
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, answering the call with the same id.
    Tool {
        tool_call_id: String,
        content: String,
    },
}

/// A tool the model asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's id for this call; the tool result must carry it back.
    pub id: String,
    pub name: String,
    /// The arguments exactly as the model wrote them: JSON text that may be invalid.
    pub arguments: String,
}

/// A tool the model may call, described by a JSON schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// A JSON-schema object describing the arguments.
    pub parameters: serde_json::Value,
}

/// The AI's part at the table, from the client's `aiRole` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AiRole {
    /// Runs the game: narrates, calls for rolls, decides outcomes.
    #[default]
    Dm,
    /// Helps the human GM: rules, rolls and suggestions, in an advisory voice.
    DmAssistant,
    /// Plays a character at the table, in the first person.
    Player,
}

impl AiRole {
    /// The role a setting value names; `None` for anything else.
    pub fn from_setting(value: &str) -> Option<AiRole> {
        match value.trim() {
            "dm" => Some(AiRole::Dm),
            "dm_assistant" => Some(AiRole::DmAssistant),
            "player" => Some(AiRole::Player),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AiRole::Dm => "dm",
            AiRole::DmAssistant => "dm_assistant",
            AiRole::Player => "player",
        }
    }
}

/// What the table looks like this turn, for providers that read it directly.
///
/// An HTTP provider sees all of this only as text in `messages`; the embedded offline
/// provider reads it as data, the way a model would read the same text, without parsing
/// its own prompt back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableView {
    pub role: AiRole,
    /// The chat given to the AI after the context budget, oldest first.
    pub chat: Vec<ChatEntry>,
    /// A number that differs for each turn of this server, so that the same chat asked
    /// twice does not get the same words twice.
    pub turn_number: u64,
}

/// One request to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub table: TableView,
}

/// A provider's answer: text for the table, tool calls, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// What the answer cost in tokens, when the provider said (the offline provider
    /// reports zero; a provider that sends no `usage` leaves it `None`).
    pub usage: Option<Usage>,
}

/// Tokens one model call used, as the provider counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}
