//! Regenerating a turn's narration under the GM's review: the model is asked again for the
//! words alone, with the turn's tool results (the dice already rolled) and the GM's note,
//! and without any tool, so nothing is ever rolled twice.
//!
//! A turn that ends with narration hands its conversation to [`TurnTools::keep_turn`]; the
//! server keeps it (bounded by `--regenerate-keep-turns` and `--regenerate-keep-ms`) under
//! the turn's `chat_request` id. A regeneration runs like a turn of its own (its own request
//! id, the AI slot, `ai_turn_started` … `ai_turn_complete`), streams like one, and hands the
//! conversation back, so the GM can ask again.

use super::coalesce::Coalescer;
use super::messages::{CompletionRequest, Message, TableView};
use super::prompts;
use super::tools;
use super::turn::{AiEngine, MAX_NARRATION_CHARS, TurnOutcome, TurnTools};
use gold_box_protocol::{AiMessage, AiMessageKind, ErrorCode, TurnStatus};
use std::sync::atomic::Ordering;
use tokio::time::{Instant, timeout_at};

/// What a finished turn leaves for a regeneration: the conversation up to (not including)
/// its narration, tool results included.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptTurn {
    pub messages: Vec<Message>,
    pub table: TableView,
    pub speaker: &'static str,
}

impl AiEngine {
    /// Asks for `kept`'s narration again, with the GM's `note`. One provider call, no
    /// tools; the new narration is streamed and posted like a turn's. Never panics;
    /// cancel-safe.
    pub async fn regenerate(
        &self,
        tools: &impl TurnTools,
        kept: KeptTurn,
        note: Option<&str>,
    ) -> TurnOutcome {
        let started = Instant::now();
        let deadline = crate::deadline_after(started, self.max_turn);
        let mut messages = kept.messages.clone();
        messages.push(Message::User(prompts::regenerate_request(note)));
        let conversation = CompletionRequest {
            messages,
            tools: Vec::new(),
            table: TableView {
                turn_number: self.turns.fetch_add(1, Ordering::Relaxed),
                ..kept.table.clone()
            },
        };
        let stream = 1;
        // Every delta is progress for the stall watchdog, as in a turn.
        let progress = tools.progress();
        let alive = progress.clone();
        let coalescer = Coalescer::new(stream, self.delta_interval).on_delta(move || alive.touch());
        let answer = async {
            tokio::select! {
                biased;
                answer = self.provider.complete(&conversation, &coalescer) => answer,
                never = coalescer.run(|delta| tools.narration_delta(delta)) => match never {},
            }
        };
        let ended = |status: TurnStatus, error: Option<String>| TurnOutcome {
            status,
            error,
            iterations: 1,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let answer = timeout_at(deadline, answer).await;
        if let Ok(Ok(completion)) = &answer {
            progress.add_usage(completion.usage.unwrap_or_default());
        }
        let completion = match answer {
            Err(_) => {
                return ended(
                    TurnStatus::Timeout,
                    Some(format!(
                        "the AI turn took longer than {} ms (--ai-max-turn-ms)",
                        self.max_turn.as_millis()
                    )),
                );
            }
            Ok(Err(error)) => {
                return ended(
                    TurnStatus::Failed,
                    Some(format!("{}: {}", ErrorCode::ProviderError, error.message)),
                );
            }
            Ok(Ok(completion)) => completion,
        };
        // Offered no tool, a model that calls one anyway rolls nothing: only its text counts.
        let Some(text) = completion
            .content
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
        else {
            return ended(
                TurnStatus::Failed,
                Some("the AI wrote no new narration".to_owned()),
            );
        };
        let narration = AiMessage {
            speaker: kept.speaker.to_owned(),
            content: tools::truncate_chars(text, MAX_NARRATION_CHARS),
            kind: AiMessageKind::Narration,
        };
        tools.keep_turn(kept);
        let post = async {
            if coalescer.saw_text() {
                tools.post_streamed(narration, stream).await;
            } else {
                tools.post_message(narration).await;
            }
        };
        if timeout_at(deadline, post).await.is_err() {
            return ended(
                TurnStatus::Timeout,
                Some("the narration could not be posted in time".to_owned()),
            );
        }
        ended(TurnStatus::Completed, None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::messages::{Completion, ToolCall};
    use super::super::provider::scripted::Scripted;
    use super::*;
    use gold_box_protocol::{NarrationDelta, RollOutcome, RollRequest};
    use std::future::Future;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Records what the engine does at the table; any roll is a failure of the test.
    #[derive(Default)]
    struct Table {
        rolls: Mutex<u32>,
        posted: Mutex<Vec<(AiMessage, Option<u32>)>>,
        kept: Mutex<Vec<KeptTurn>>,
        deltas: Mutex<Vec<NarrationDelta>>,
    }

    impl TurnTools for Table {
        fn roll_dice(
            &self,
            _rolls: Vec<RollRequest>,
        ) -> impl Future<Output = Result<Vec<RollOutcome>, super::super::turn::ToolFailure>> + Send
        {
            *self.rolls.lock().expect("lock") += 1;
            async { Ok(Vec::new()) }
        }

        fn post_message(&self, message: AiMessage) -> impl Future<Output = ()> + Send {
            self.posted.lock().expect("lock").push((message, None));
            async {}
        }

        fn narration_delta(&self, delta: NarrationDelta) {
            self.deltas.lock().expect("lock").push(delta);
        }

        fn post_streamed(
            &self,
            message: AiMessage,
            stream: u32,
        ) -> impl Future<Output = ()> + Send {
            self.posted
                .lock()
                .expect("lock")
                .push((message, Some(stream)));
            async {}
        }

        fn keep_turn(&self, kept: KeptTurn) {
            self.kept.lock().expect("lock").push(kept);
        }
    }

    fn kept() -> KeptTurn {
        KeptTurn {
            messages: vec![
                Message::System("be the GM".into()),
                Message::User("[Aria] I attack".into()),
                Message::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "roll_dice".into(),
                        arguments: r#"{"rolls":[{"formula":"1d20+5"}]}"#.into(),
                    }],
                },
                Message::Tool {
                    tool_call_id: "call_1".into(),
                    content: r#"{"rolls":[{"total":17}]}"#.into(),
                },
            ],
            table: TableView::default(),
            speaker: "Game Master",
        }
    }

    #[tokio::test]
    async fn a_regeneration_offers_no_tool_passes_the_note_and_keeps_the_turn_again() {
        let engine = AiEngine::scripted(vec![Scripted::Streamed(vec![
            (Duration::ZERO, "The goblin "),
            (Duration::from_millis(80), "begs."),
        ])]);
        let table = Table::default();
        let outcome = engine
            .regenerate(&table, kept(), Some("Make the goblin beg."))
            .await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
        let super::super::provider::Provider::Scripted(scripted) = &engine.provider else {
            panic!("scripted");
        };
        let requests = scripted.requests();
        assert_eq!(requests.len(), 1);
        assert!(requests[0].tools.is_empty(), "no tool is offered");
        assert_eq!(&requests[0].messages[..4], &kept().messages[..]);
        match requests[0].messages.last() {
            Some(Message::User(text)) => assert!(text.contains("Make the goblin beg."), "{text}"),
            other => panic!("the note is not the last message: {other:?}"),
        }
        assert_eq!(*table.rolls.lock().expect("lock"), 0);
        let posted = table.posted.lock().expect("lock").clone();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0].0.content, "The goblin begs.");
        assert_eq!(posted[0].0.speaker, "Game Master");
        assert_eq!(
            posted[0].1,
            Some(1),
            "streamed: the narration names stream 1"
        );
        assert_eq!(table.kept.lock().expect("lock").clone(), vec![kept()]);
    }

    #[tokio::test]
    async fn a_regeneration_that_calls_a_tool_anyway_rolls_nothing_and_fails_without_text() {
        let engine = AiEngine::scripted(vec![Scripted::Answer(Completion {
            content: None,
            tool_calls: vec![ToolCall {
                id: "call_2".into(),
                name: "roll_dice".into(),
                arguments: r#"{"rolls":[{"formula":"1d20"}]}"#.into(),
            }],
            usage: None,
        })]);
        let table = Table::default();
        let outcome = engine.regenerate(&table, kept(), None).await;
        assert_eq!(outcome.status, TurnStatus::Failed);
        assert_eq!(*table.rolls.lock().expect("lock"), 0);
        assert!(table.posted.lock().expect("lock").is_empty());
    }
}
