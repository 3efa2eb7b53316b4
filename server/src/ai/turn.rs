//! The turn loop: ask the provider, run the tools it calls, give it the results, until it
//! answers with narration, within a number of iterations and a wall time.
//!
//! The loop talks to the table only through [`TurnTools`], which the server implements
//! (execute_roll through the pending-request registry, chat_response frames), so the loop
//! is tested here with an in-memory table and knows nothing of sockets.
//!
//! How a turn ends:
//! - the provider answers without tool calls: its text is posted as `narration`,
//!   status `completed` (while the provider writes, its text goes ahead as
//!   `narration_delta` previews, through the `Coalescer` each provider call gets; the
//!   conversation is handed to `keep_turn` for a later regeneration);
//! - a roll is not answered by its deadline: status `timeout`, the tool's message;
//! - the client is gone or the server is stopping: status `failed`;
//! - the provider fails (after its retries): an `error` chat message first, then status
//!   `failed` with `PROVIDER_ERROR: ...`;
//! - the iterations or the wall time run out: `failed` / `timeout`, naming the option.
//!
//! Mistakes in tool arguments never end a turn: the model gets an error it can correct.
//! `run_turn` holds no lock and no resource that outlives it, so dropping its future at
//! any await (the server shutting down) is safe; nothing in it panics.

use super::coalesce::Coalescer;
use super::config::AiConfig;
use super::context;
use super::messages::{AiRole, CompletionRequest, Message, TableView};
use super::openai::install_tls_provider;
use super::progress::TurnProgress;
use super::prompts;
use super::provider::Provider;
use super::regenerate::KeptTurn;
use super::rng::entropy_seed;
use super::tools::{self, ToolInvocation};
use gold_box_protocol::{
    AiMessage, AiMessageKind, AiTurnComplete, ChatEntry, ErrorCode, JsonMap, JsonValue,
    NarrationDelta, RollOutcome, RollRequest, TurnStatus,
};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// The longest narration posted, in characters (a longer one is cut).
pub const MAX_NARRATION_CHARS: usize = 8_000;
/// The most chat messages the `contextMessages` setting may ask for.
pub const MAX_CONTEXT_MESSAGES: usize = 200;

/// What a turn can ask of the table. Implemented by the server (sends execute_roll and waits
/// for the roll result through the pending-request registry; sends chat_response frames).
pub trait TurnTools: Send + Sync {
    /// Asks the GM's browser to roll with Foundry's dice; resolves with one outcome per roll,
    /// or fails (timeout at the roll deadline, client gone, server shutting down).
    fn roll_dice(
        &self,
        rolls: Vec<RollRequest>,
    ) -> impl Future<Output = Result<Vec<RollOutcome>, ToolFailure>> + Send;
    /// Posts one AI message to chat (sent as a `chat_response` frame).
    fn post_message(&self, message: AiMessage) -> impl Future<Output = ()> + Send;
    /// The turn's progress record, which the loop touches on every step and adds each
    /// answer's usage to; the runner watches it (stall watchdog) and reads the usage
    /// back. By default a record nobody watches.
    fn progress(&self) -> TurnProgress {
        TurnProgress::new()
    }
    /// A preview of narration the provider is still writing (a `narration_delta` frame,
    /// best-effort, already coalesced). Must not wait.
    fn narration_delta(&self, delta: NarrationDelta) {
        let _ = delta;
    }
    /// Posts the narration that ends `stream`, whose text was previewed by
    /// [`narration_delta`](TurnTools::narration_delta) (a `chat_response` naming the stream).
    fn post_streamed(&self, message: AiMessage, stream: u32) -> impl Future<Output = ()> + Send {
        let _ = stream;
        self.post_message(message)
    }
    /// The conversation of a turn that ends with narration, for a later regeneration of
    /// that narration (see `regenerate`). Must not wait.
    fn keep_turn(&self, kept: KeptTurn) {
        let _ = kept;
    }
}

/// Why a table tool failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolFailureKind {
    /// No result by the roll's deadline: the turn ends with status `timeout`.
    Timeout,
    /// The client is gone for good: the turn ends with status `failed`.
    Disconnected,
    /// The server is stopping: the turn ends with status `failed`.
    ShuttingDown,
    /// Anything else: the model is told and the turn goes on.
    Other,
}

/// A table tool's failure, with a message for the GM (e.g. "no roll result for roll-12
/// within 30000 ms").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFailure {
    pub kind: ToolFailureKind,
    pub message: String,
}

/// One turn to take.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRequest {
    /// The `chat_request`'s request_id.
    pub request_id: String,
    pub client_id: String,
    /// The chat the client sent, oldest first.
    pub messages: Vec<ChatEntry>,
    /// The client's synced settings: "aiRole" ("dm" | "dm_assistant" | "player"),
    /// "contextMessages".
    pub settings: JsonMap,
    /// Recent chat_message / dice_roll / combat_context / combat_state frames' data,
    /// newest last.
    pub context: Vec<JsonValue>,
}

/// How a turn ended: the fields of `ai_turn_complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnOutcome {
    pub status: TurnStatus,
    pub error: Option<String>,
    /// How many times the provider was asked.
    pub iterations: u32,
    pub duration_ms: u64,
}

impl TurnOutcome {
    /// The `ai_turn_complete` payload.
    pub fn to_complete(&self) -> AiTurnComplete {
        AiTurnComplete {
            status: self.status,
            error: self.error.clone(),
            iterations: self.iterations,
            duration_ms: self.duration_ms,
            usage: None,
            session_usage: None,
        }
    }
}

/// The AI: a provider and the limits of each turn.
#[derive(Debug)]
pub struct AiEngine {
    pub(super) provider: Provider,
    max_iterations: u32,
    pub(super) max_turn: Duration,
    context_budget_chars: usize,
    /// The shortest time between two `narration_delta` frames of one stream.
    pub(super) delta_interval: Duration,
    /// Turns started, so that the offline provider varies from turn to turn.
    pub(super) turns: AtomicU64,
}

/// How the loop ended (before the duration is measured).
struct End {
    status: TurnStatus,
    error: Option<String>,
}

impl End {
    fn completed() -> End {
        End {
            status: TurnStatus::Completed,
            error: None,
        }
    }

    fn failed(error: impl Into<String>) -> End {
        End {
            status: TurnStatus::Failed,
            error: Some(error.into()),
        }
    }

    fn timeout(error: impl Into<String>) -> End {
        End {
            status: TurnStatus::Timeout,
            error: Some(error.into()),
        }
    }
}

impl AiEngine {
    /// The configured engine, or an error naming the option to fix (for startup).
    ///
    /// Also installs the process's TLS provider, so that any HTTPS client built later in
    /// this process works (see [`install_tls_provider`]).
    pub fn from_config(config: &AiConfig) -> Result<AiEngine, String> {
        config.validate()?;
        install_tls_provider();
        let seed = config.seed.unwrap_or_else(entropy_seed);
        let provider = Provider::from_config(config, seed)?;
        Ok(AiEngine::with_provider(provider, config))
    }

    /// An engine that plays back a test's script (for tests of what runs the turns).
    #[cfg(test)]
    pub fn scripted(script: Vec<super::provider::scripted::Scripted>) -> AiEngine {
        AiEngine::with_provider(
            Provider::Scripted(super::provider::scripted::ScriptedProvider::new(script)),
            &AiConfig::default(),
        )
    }

    fn with_provider(provider: Provider, config: &AiConfig) -> AiEngine {
        AiEngine {
            provider,
            max_iterations: config.max_iterations.max(1),
            max_turn: config.max_turn(),
            context_budget_chars: config.context_budget_chars,
            delta_interval: Duration::from_millis(config.narration_delta_interval_ms.max(1)),
            turns: AtomicU64::new(0),
        }
    }

    /// `offline` or `openai`.
    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }

    /// The model the provider is asked for (the provider's name for those without one).
    pub fn model_name(&self) -> &str {
        self.provider.model()
    }

    /// Takes one turn. Never panics; cancel-safe (see the module docs).
    pub async fn run_turn(&self, tools: &impl TurnTools, request: TurnRequest) -> TurnOutcome {
        let started = Instant::now();
        let deadline = crate::deadline_after(started, self.max_turn);
        let mut iterations = 0u32;
        let end = self
            .turn_loop(tools, &request, deadline, &mut iterations)
            .await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &end.error {
            None => tracing::info!(
                request_id = %request.request_id,
                client_id = %request.client_id,
                provider = self.provider.name(),
                iterations,
                duration_ms,
                "AI turn completed"
            ),
            Some(error) => tracing::warn!(
                request_id = %request.request_id,
                client_id = %request.client_id,
                provider = self.provider.name(),
                status = ?end.status,
                iterations,
                duration_ms,
                %error,
                "AI turn ended early"
            ),
        }
        TurnOutcome {
            status: end.status,
            error: end.error,
            iterations,
            duration_ms,
        }
    }

    fn wall_time_exceeded(&self) -> End {
        End::timeout(format!(
            "the AI turn took longer than {} ms (--ai-max-turn-ms)",
            self.max_turn.as_millis()
        ))
    }

    async fn turn_loop(
        &self,
        tools: &impl TurnTools,
        request: &TurnRequest,
        deadline: Instant,
        iterations: &mut u32,
    ) -> End {
        let role = role_setting(&request.settings);
        let speaker = prompts::speaker_name(role);
        let bounded = context::bound(
            &request.messages,
            context_messages_setting(&request.settings),
            &request.context,
            self.context_budget_chars,
        );
        let mut conversation = CompletionRequest {
            messages: vec![
                Message::System(prompts::system_prompt(
                    role,
                    bounded.chat.dropped,
                    &bounded.table,
                )),
                Message::User(prompts::transcript(&bounded.chat.kept)),
            ],
            tools: tools::definitions(),
            table: TableView {
                role,
                chat: bounded.chat.kept,
                turn_number: self.turns.fetch_add(1, Ordering::Relaxed),
            },
        };
        let mut posted = 0usize;
        let progress = tools.progress();

        loop {
            if *iterations >= self.max_iterations {
                return End::failed(format!(
                    "the AI was still using tools after {} iterations (--ai-max-iterations) \
                     and did not finish its turn",
                    self.max_iterations
                ));
            }
            *iterations += 1;
            // Each provider call is one stream of previews, numbered by the iteration; every
            // delta is progress for the stall watchdog.
            let stream = *iterations;
            let alive = progress.clone();
            let coalescer =
                Coalescer::new(stream, self.delta_interval).on_delta(move || alive.touch());
            let answer = async {
                tokio::select! {
                    biased;
                    answer = self.provider.complete(&conversation, &coalescer) => answer,
                    never = coalescer.run(|delta| tools.narration_delta(delta)) => match never {},
                }
            };
            let answer = timeout_at(deadline, answer).await;
            if let Ok(Ok(completion)) = &answer {
                progress.add_usage(completion.usage.unwrap_or_default());
            }
            let completion = match answer {
                Err(_) => return self.wall_time_exceeded(),
                Ok(Err(error)) => {
                    let notice = AiMessage {
                        speaker: prompts::ERROR_SPEAKER.to_owned(),
                        content: format!("The AI could not take its turn: {}", error.message),
                        kind: AiMessageKind::Error,
                    };
                    // Posted even when the wall time is nearly spent: it is the GM's
                    // only explanation in the chat.
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), tools.post_message(notice))
                            .await;
                    return End::failed(format!("{}: {}", ErrorCode::ProviderError, error.message));
                }
                Ok(Ok(completion)) => completion,
            };

            if completion.tool_calls.is_empty() {
                // Text beside tool calls ("let me roll for that") is not posted: only the
                // final answer is the turn's narration.
                let text = completion
                    .content
                    .as_deref()
                    .map(str::trim)
                    .filter(|text| !text.is_empty());
                return match text {
                    Some(text) => {
                        let narration = AiMessage {
                            speaker: speaker.to_owned(),
                            content: tools::truncate_chars(text, MAX_NARRATION_CHARS),
                            kind: AiMessageKind::Narration,
                        };
                        tools.keep_turn(KeptTurn {
                            messages: conversation.messages.clone(),
                            table: conversation.table.clone(),
                            speaker,
                        });
                        let post = async {
                            if coalescer.saw_text() {
                                tools.post_streamed(narration, stream).await;
                            } else {
                                tools.post_message(narration).await;
                            }
                        };
                        if timeout_at(deadline, post).await.is_err() {
                            return self.wall_time_exceeded();
                        }
                        End::completed()
                    }
                    None if posted > 0 => End::completed(),
                    None => End::failed("the AI ended its turn without saying anything"),
                };
            }

            conversation.messages.push(Message::Assistant {
                content: completion.content.clone(),
                tool_calls: completion.tool_calls.clone(),
            });
            for call in &completion.tool_calls {
                let result = match tools::parse(call) {
                    Err(error) => {
                        tracing::debug!(tool = %call.name, %error, "the AI's tool call was refused");
                        error
                    }
                    Ok(ToolInvocation::RollDice(rolls)) => {
                        match timeout_at(deadline, tools.roll_dice(rolls)).await {
                            Err(_) => return self.wall_time_exceeded(),
                            Ok(Ok(outcomes)) => tools::roll_result(&outcomes),
                            Ok(Err(failure)) => match failure.kind {
                                ToolFailureKind::Timeout => return End::timeout(failure.message),
                                ToolFailureKind::Disconnected | ToolFailureKind::ShuttingDown => {
                                    return End::failed(failure.message);
                                }
                                ToolFailureKind::Other => tools::error_result(format!(
                                    "the roll failed: {}",
                                    failure.message
                                )),
                            },
                        }
                    }
                    Ok(ToolInvocation::PostMessage(content)) => {
                        let message = AiMessage {
                            speaker: speaker.to_owned(),
                            content,
                            kind: AiMessageKind::Narration,
                        };
                        if timeout_at(deadline, tools.post_message(message))
                            .await
                            .is_err()
                        {
                            return self.wall_time_exceeded();
                        }
                        posted += 1;
                        tools::posted_result()
                    }
                    Ok(ToolInvocation::GetMessageHistory(count)) => {
                        tools::history_result(&request.messages, count, self.context_budget_chars)
                    }
                };
                // A tool call run (a roll resolved included) is progress.
                progress.touch();
                conversation.messages.push(Message::Tool {
                    tool_call_id: call.id.clone(),
                    content: result,
                });
            }
        }
    }
}

/// The `aiRole` setting; the GM role when it is missing or unknown.
fn role_setting(settings: &JsonMap) -> AiRole {
    match settings.get("aiRole") {
        None => AiRole::default(),
        Some(value) => value
            .as_str()
            .and_then(AiRole::from_setting)
            .unwrap_or_else(|| {
                tracing::warn!(?value, "unknown aiRole setting; playing the GM");
                AiRole::default()
            }),
    }
}

/// The `contextMessages` setting: how many recent messages the AI may read.
fn context_messages_setting(settings: &JsonMap) -> Option<usize> {
    settings
        .get("contextMessages")
        .and_then(JsonValue::as_f64)
        .filter(|n| n.is_finite())
        .map(|n| n.clamp(1.0, MAX_CONTEXT_MESSAGES as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::super::messages::{Completion, ToolCall};
    use super::super::provider::scripted::{Scripted, ScriptedProvider};
    use super::super::provider::{ProviderError, ProviderErrorKind};
    use super::*;
    use gold_box_protocol::{ChatKind, DieResult, DieTerm};
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// An in-memory table: answers rolls from a script (or with `default_total`), or
    /// never; records every roll asked and message posted.
    #[derive(Default)]
    struct Table {
        answers: Mutex<VecDeque<Result<Vec<RollOutcome>, ToolFailure>>>,
        default_total: Option<(f64, i64)>,
        rolls: Mutex<Vec<Vec<RollRequest>>>,
        posted: Mutex<Vec<AiMessage>>,
        progress: TurnProgress,
    }

    fn outcome(request: &RollRequest, total: f64, face: i64) -> RollOutcome {
        let faces = if request.formula.contains("d20") {
            20
        } else {
            8
        };
        RollOutcome {
            formula: request.formula.clone(),
            flavor: request.flavor.clone(),
            total: Some(total),
            dice: vec![DieTerm {
                faces,
                results: vec![DieResult {
                    result: face,
                    active: true,
                }],
            }],
            error: None,
        }
    }

    impl Table {
        fn answering(total: f64, face: i64) -> Table {
            Table {
                default_total: Some((total, face)),
                ..Table::default()
            }
        }

        fn failing(kind: ToolFailureKind, message: &str) -> Table {
            let table = Table::default();
            table
                .answers
                .lock()
                .expect("lock")
                .push_back(Err(ToolFailure {
                    kind,
                    message: message.into(),
                }));
            table
        }

        fn rolls(&self) -> Vec<Vec<RollRequest>> {
            self.rolls.lock().expect("lock").clone()
        }

        fn posted(&self) -> Vec<AiMessage> {
            self.posted.lock().expect("lock").clone()
        }
    }

    impl TurnTools for Table {
        fn roll_dice(
            &self,
            rolls: Vec<RollRequest>,
        ) -> impl Future<Output = Result<Vec<RollOutcome>, ToolFailure>> + Send {
            self.rolls.lock().expect("lock").push(rolls.clone());
            let scripted = self.answers.lock().expect("lock").pop_front();
            let default = self.default_total;
            async move {
                match (scripted, default) {
                    (Some(answer), _) => answer,
                    (None, Some((total, face))) => {
                        Ok(rolls.iter().map(|r| outcome(r, total, face)).collect())
                    }
                    (None, None) => std::future::pending().await,
                }
            }
        }

        fn post_message(&self, message: AiMessage) -> impl Future<Output = ()> + Send {
            self.posted.lock().expect("lock").push(message);
            async {}
        }

        fn progress(&self) -> TurnProgress {
            self.progress.clone()
        }
    }

    fn chat(lines: &[(&str, &str)]) -> Vec<ChatEntry> {
        lines
            .iter()
            .enumerate()
            .map(|(i, (speaker, content))| ChatEntry {
                speaker: (*speaker).into(),
                content: (*content).into(),
                kind: ChatKind::Chat,
                timestamp: i as u64,
            })
            .collect()
    }

    fn turn(lines: &[(&str, &str)], role: &str) -> TurnRequest {
        let mut settings = JsonMap::new();
        settings.insert("aiRole".to_owned(), JsonValue::String(role.into()));
        TurnRequest {
            request_id: "turn-1".into(),
            client_id: "gb-u1-k3x9".into(),
            messages: chat(lines),
            settings,
            context: Vec::new(),
        }
    }

    fn seeded(seed: u64) -> AiEngine {
        let config = AiConfig {
            seed: Some(seed),
            ..AiConfig::default()
        };
        AiEngine::from_config(&config).expect("the offline engine builds")
    }

    fn scripted(script: Vec<Scripted>, config: AiConfig) -> AiEngine {
        AiEngine::with_provider(Provider::Scripted(ScriptedProvider::new(script)), &config)
    }

    fn requests(engine: &AiEngine) -> Vec<CompletionRequest> {
        match &engine.provider {
            Provider::Scripted(provider) => provider.requests(),
            _ => Vec::new(),
        }
    }

    fn call(id: &str, name: &str, arguments: &str) -> Scripted {
        Scripted::Answer(Completion {
            content: None,
            tool_calls: vec![ToolCall {
                id: id.into(),
                name: name.into(),
                arguments: arguments.into(),
            }],
            ..Completion::default()
        })
    }

    fn say(text: &str) -> Scripted {
        Scripted::Answer(Completion {
            content: Some(text.into()),
            ..Completion::default()
        })
    }

    fn last_tool_result(request: &CompletionRequest) -> String {
        match request.messages.last() {
            Some(Message::Tool { content, .. }) => content.clone(),
            other => panic!("the last message is not a tool result: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_offline_attack_rolls_at_the_table_and_narrates_the_real_totals() {
        let table = Table::answering(17.0, 12);
        let outcome = seeded(1)
            .run_turn(
                &table,
                turn(
                    &[("Aria", "I attack the goblin with my longsword! AC 13")],
                    "dm",
                ),
            )
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
        assert_eq!(outcome.iterations, 3, "attack, damage, narration");
        let rolls = table.rolls();
        assert_eq!(rolls.len(), 2);
        assert_eq!(rolls[0][0].formula, "1d20+5");
        assert_eq!(rolls[1][0].formula, "1d8+3");
        let posted = table.posted();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0].kind, AiMessageKind::Narration);
        assert_eq!(posted[0].speaker, "Game Master");
        assert!(posted[0].content.contains("17"), "{}", posted[0].content);
    }

    #[tokio::test]
    async fn every_answers_usage_is_summed_into_the_turns_progress() {
        let used = |prompt, completion| {
            Some(super::super::messages::Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
            })
        };
        let engine = scripted(
            vec![
                Scripted::Answer(Completion {
                    usage: used(100, 20),
                    ..match call("c1", "roll_dice", r#"{"rolls":[{"formula":"1d20+5"}]}"#) {
                        Scripted::Answer(completion) => completion,
                        _ => unreachable!(),
                    }
                }),
                Scripted::Answer(Completion {
                    content: Some("Hit.".into()),
                    usage: used(120, 10),
                    ..Completion::default()
                }),
            ],
            AiConfig::default(),
        );
        let table = Table::answering(17.0, 12);
        let before = table.progress.last_progress();
        let outcome = engine
            .run_turn(&table, turn(&[("Aria", "I attack!")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
        assert_eq!(table.progress.usage(), used(220, 30).unwrap_or_default());
        assert!(table.progress.last_progress() >= before);
    }

    #[tokio::test]
    async fn an_offline_turn_with_nothing_to_roll_answers_in_one_iteration() {
        let table = Table::default();
        let outcome = seeded(1)
            .run_turn(&table, turn(&[("Aria", "Hello, where are we?")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed);
        assert_eq!(outcome.iterations, 1);
        assert!(table.rolls().is_empty());
        assert_eq!(table.posted().len(), 1);
    }

    #[tokio::test]
    async fn seeded_offline_turns_are_reproducible_and_vary_across_seeds() {
        let said = [("Aria", "I try to sneak past the guards")];
        let mut texts = std::collections::BTreeSet::new();
        for seed in 0..8 {
            let a = Table::answering(14.0, 11);
            let b = Table::answering(14.0, 11);
            seeded(seed).run_turn(&a, turn(&said, "dm")).await;
            seeded(seed).run_turn(&b, turn(&said, "dm")).await;
            assert_eq!(a.posted(), b.posted(), "seed {seed}");
            assert_eq!(a.rolls(), b.rolls(), "seed {seed}");
            texts.insert(a.posted()[0].content.clone());
        }
        assert!(texts.len() > 2, "{texts:?}");
    }

    #[tokio::test]
    async fn the_role_setting_chooses_the_voice_and_speaker() {
        let table = Table::answering(15.0, 13);
        seeded(2)
            .run_turn(
                &table,
                turn(&[("GM", "Make a Dexterity saving throw, DC 12")], "player"),
            )
            .await;
        let posted = table.posted();
        assert_eq!(posted[0].speaker, "AI Player");
        assert!(posted[0].content.contains("15"));
    }

    #[tokio::test]
    async fn malformed_tool_arguments_reach_the_model_and_the_turn_goes_on() {
        let engine = scripted(
            vec![
                call("c1", "roll_dice", r#"{"rolls": [{"formula": "1d20""#),
                call("c2", "roll_dice", r#"{"rolls":[{"formula":"2d"}]}"#),
                call("c3", "roll_dice", r#"{"rolls":[{"formula":"1d20+2"}]}"#),
                say("The lock clicks open."),
            ],
            AiConfig::default(),
        );
        let table = Table::answering(15.0, 13);
        let outcome = engine
            .run_turn(&table, turn(&[("Aria", "I pick the lock")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
        assert_eq!(outcome.iterations, 4);
        let seen = requests(&engine);
        assert!(last_tool_result(&seen[1]).contains("not valid JSON"));
        assert!(last_tool_result(&seen[2]).contains("no number of faces"));
        assert!(last_tool_result(&seen[3]).contains("\"total\":15"));
        assert_eq!(
            table.rolls().len(),
            1,
            "only the valid formula reached the table"
        );
        assert_eq!(table.posted()[0].content, "The lock clicks open.");
    }

    #[tokio::test]
    async fn a_roll_timeout_ends_the_turn_with_status_timeout() {
        let table = Table::failing(
            ToolFailureKind::Timeout,
            "no roll result for roll-12 within 30000 ms",
        );
        let outcome = seeded(1)
            .run_turn(&table, turn(&[("Aria", "I attack the orc")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Timeout);
        assert_eq!(
            outcome.error.as_deref(),
            Some("no roll result for roll-12 within 30000 ms")
        );
        assert_eq!(outcome.iterations, 1);
        assert!(table.posted().is_empty());
    }

    #[tokio::test]
    async fn a_client_gone_for_good_fails_the_turn() {
        let table = Table::failing(ToolFailureKind::Disconnected, "the client is gone");
        let outcome = seeded(1)
            .run_turn(&table, turn(&[("Aria", "I attack the orc")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Failed);
        assert_eq!(outcome.error.as_deref(), Some("the client is gone"));
    }

    #[tokio::test]
    async fn another_tool_failure_is_told_to_the_model() {
        let table = Table::failing(ToolFailureKind::Other, "Foundry refused the roll");
        let outcome = seeded(1)
            .run_turn(&table, turn(&[("Aria", "I attack the orc")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed);
        assert!(
            table.posted()[0]
                .content
                .contains("Foundry refused the roll")
        );
    }

    #[tokio::test]
    async fn a_provider_error_posts_an_error_message_then_fails_the_turn() {
        let engine = scripted(
            vec![Scripted::Fail(ProviderError {
                kind: ProviderErrorKind::Status(500),
                message: "http://x/v1/chat/completions (model m) answered 500".into(),
            })],
            AiConfig::default(),
        );
        let table = Table::default();
        let outcome = engine.run_turn(&table, turn(&[("Aria", "hi")], "dm")).await;
        assert_eq!(outcome.status, TurnStatus::Failed);
        let error = outcome.error.expect("an error");
        assert!(error.starts_with("PROVIDER_ERROR: "), "{error}");
        assert!(error.contains("answered 500"), "{error}");
        let posted = table.posted();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0].kind, AiMessageKind::Error);
        assert!(posted[0].content.contains("answered 500"));
    }

    #[tokio::test]
    async fn a_model_that_never_stops_calling_tools_is_stopped_at_max_iterations() {
        let script = (0..10)
            .map(|i| call(&format!("c{i}"), "get_message_history", r#"{"count":1}"#))
            .collect();
        let config = AiConfig {
            max_iterations: 3,
            ..AiConfig::default()
        };
        let engine = scripted(script, config);
        let outcome = engine
            .run_turn(&Table::default(), turn(&[("Aria", "hi")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Failed);
        assert_eq!(outcome.iterations, 3);
        assert!(
            outcome
                .error
                .is_some_and(|e| e.contains("--ai-max-iterations"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_is_bounded_by_its_wall_time() {
        let config = AiConfig {
            max_turn_ms: 5_000,
            seed: Some(1),
            ..AiConfig::default()
        };
        let engine = AiEngine::from_config(&config).expect("builds");
        // A table that never answers the roll.
        let outcome = engine
            .run_turn(
                &Table::default(),
                turn(&[("Aria", "I attack the orc")], "dm"),
            )
            .await;
        assert_eq!(outcome.status, TurnStatus::Timeout);
        assert!(
            outcome
                .error
                .is_some_and(|e| e.contains("--ai-max-turn-ms"))
        );
        assert_eq!(outcome.duration_ms, 5_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_provider_is_bounded_by_the_wall_time() {
        let config = AiConfig {
            max_turn_ms: 1_000,
            ..AiConfig::default()
        };
        let engine = scripted(
            vec![Scripted::Stall(Duration::from_secs(60)), say("too late")],
            config,
        );
        let table = Table::default();
        let outcome = engine.run_turn(&table, turn(&[("Aria", "hi")], "dm")).await;
        assert_eq!(outcome.status, TurnStatus::Timeout);
        assert!(table.posted().is_empty());
    }

    #[tokio::test]
    async fn messages_posted_through_the_tool_complete_a_turn_without_final_text() {
        let engine = scripted(
            vec![
                call("c1", "post_message", r#"{"content":"The door creaks."}"#),
                say("   "),
            ],
            AiConfig::default(),
        );
        let table = Table::default();
        let outcome = engine
            .run_turn(&table, turn(&[("Aria", "I open it")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed);
        assert_eq!(table.posted()[0].content, "The door creaks.");
        assert_eq!(table.posted().len(), 1);
    }

    #[tokio::test]
    async fn a_turn_that_says_nothing_fails() {
        let engine = scripted(vec![say("")], AiConfig::default());
        let outcome = engine
            .run_turn(&Table::default(), turn(&[("Aria", "hi")], "dm"))
            .await;
        assert_eq!(outcome.status, TurnStatus::Failed);
    }

    #[tokio::test]
    async fn the_context_budget_drops_old_messages_and_says_so() {
        let config = AiConfig {
            context_budget_chars: 1_000,
            ..AiConfig::default()
        };
        let engine = scripted(
            vec![
                call("c1", "get_message_history", r#"{"count":50}"#),
                say("ok"),
            ],
            config,
        );
        let long = "x".repeat(200);
        let lines: Vec<(String, String)> = (0..20)
            .map(|i| (format!("P{i}"), format!("{i} {long}")))
            .collect();
        let lines: Vec<(&str, &str)> = lines
            .iter()
            .map(|(s, c)| (s.as_str(), c.as_str()))
            .collect();
        engine.run_turn(&Table::default(), turn(&lines, "dm")).await;
        let seen = requests(&engine);
        let Message::System(system) = &seen[0].messages[0] else {
            panic!("the first message is the system prompt");
        };
        assert!(
            system.contains("older chat messages did not fit"),
            "{system}"
        );
        let Message::User(transcript) = &seen[0].messages[1] else {
            panic!("the second message is the transcript");
        };
        assert!(transcript.contains("[P19]"));
        assert!(!transcript.contains("[P0]"));
        assert!(transcript.chars().count() < 1_200);
        // The history tool reads further back than the first prompt did, within the budget.
        let history = last_tool_result(&seen[1]);
        assert!(history.contains("\"available\":20"), "{history}");
    }

    #[tokio::test]
    async fn the_context_messages_setting_limits_the_transcript() {
        let engine = scripted(vec![say("ok")], AiConfig::default());
        let mut request = turn(&[("A", "one"), ("B", "two"), ("C", "three")], "dm");
        request
            .settings
            .insert("contextMessages".into(), JsonValue::Integer(2));
        engine.run_turn(&Table::default(), request).await;
        let seen = requests(&engine);
        let Message::User(transcript) = &seen[0].messages[1] else {
            panic!("the second message is the transcript");
        };
        assert!(!transcript.contains("[A] one"));
        assert!(transcript.contains("[B] two") && transcript.contains("[C] three"));
    }

    #[test]
    fn unknown_or_missing_roles_play_the_gm() {
        let mut settings = JsonMap::new();
        assert_eq!(role_setting(&settings), AiRole::Dm);
        settings.insert("aiRole".into(), JsonValue::String("bard".into()));
        assert_eq!(role_setting(&settings), AiRole::Dm);
        settings.insert("aiRole".into(), JsonValue::String("dm_assistant".into()));
        assert_eq!(role_setting(&settings), AiRole::DmAssistant);
    }

    #[test]
    fn the_outcome_becomes_the_turn_complete_payload() {
        let outcome = TurnOutcome {
            status: TurnStatus::Timeout,
            error: Some("late".into()),
            iterations: 1,
            duration_ms: 30_004,
        };
        assert_eq!(
            outcome.to_complete(),
            AiTurnComplete {
                status: TurnStatus::Timeout,
                error: Some("late".into()),
                iterations: 1,
                duration_ms: 30_004,
                usage: None,
                session_usage: None,
            }
        );
    }

    /// The server spawns turns on the runtime, so the turn's future must be `Send`.
    #[allow(dead_code)]
    fn run_turn_is_send(engine: &AiEngine, table: &Table, request: TurnRequest) {
        fn assert_send<T: Send>(_: &T) {}
        let future = engine.run_turn(table, request);
        assert_send(&future);
    }
}
