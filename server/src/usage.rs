//! What the AI's turns cost: tokens per turn and per server session, an estimated cost
//! from configured prices, and an optional budget that refuses new turns once spent.
//!
//! The tokens are the provider's own count (`Completion::usage`, summed per turn by the
//! engine's progress record, so a turn stopped or failed part-way counts what it
//! spent). The offline provider reports zero. Prices are per million tokens, in
//! whatever currency the GM writes them; without a price no cost is estimated (and a
//! cost budget cannot be set).
//!
//! The budget is checked when a turn is asked for, never during one: a turn that has
//! started runs to its end even if it crosses the budget, so the GM is never left with
//! half a turn. The session is the server's run: a restart starts from zero.

use crate::ai::messages::Usage;
use gold_box_protocol::{AiUsageMetrics, TokenUsage};
use std::sync::{Mutex, MutexGuard};

/// Parses a price or a cost: a finite number ≥ 0.
fn amount(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} must be a finite number of at least 0"));
    }
    Ok(value)
}

/// The price and budget options (part of the server's one clap definition).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UsageConfig {
    /// The price of one million prompt (input) tokens of the configured model, in the
    /// currency of your choice; with it each turn reports an estimated cost. Unset:
    /// no cost is estimated.
    #[arg(
        long = "ai-price-prompt-per-mtok",
        env = "GOLD_BOX_AI_PRICE_PROMPT_PER_MTOK",
        value_parser = amount
    )]
    pub price_prompt_per_mtok: Option<f64>,

    /// The price of one million completion (output) tokens of the configured model, in
    /// the same currency.
    #[arg(
        long = "ai-price-completion-per-mtok",
        env = "GOLD_BOX_AI_PRICE_COMPLETION_PER_MTOK",
        value_parser = amount
    )]
    pub price_completion_per_mtok: Option<f64>,

    /// The most tokens (prompt and completion together) the AI may spend in one run of
    /// the server; once spent, a new turn is refused with BUDGET_EXCEEDED (a running
    /// turn always finishes). Unset: no limit.
    #[arg(long = "ai-budget-tokens", env = "GOLD_BOX_AI_BUDGET_TOKENS")]
    pub budget_tokens: Option<u64>,

    /// The most estimated cost the AI may spend in one run of the server, in the
    /// prices' currency (needs a price); once spent, a new turn is refused with
    /// BUDGET_EXCEEDED. Unset: no limit.
    #[arg(
        long = "ai-budget-cost",
        env = "GOLD_BOX_AI_BUDGET_COST",
        value_parser = amount
    )]
    pub budget_cost: Option<f64>,
}

impl UsageConfig {
    /// Checks the combination; the error names the option to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.budget_cost.is_some() && !self.priced() {
            return Err("--ai-budget-cost needs a price to estimate the cost: set \
                        --ai-price-prompt-per-mtok and/or --ai-price-completion-per-mtok"
                .to_owned());
        }
        Ok(())
    }

    fn priced(&self) -> bool {
        self.price_prompt_per_mtok.is_some() || self.price_completion_per_mtok.is_some()
    }
}

/// The session's spending, and what it may spend.
#[derive(Debug)]
pub struct UsageMeter {
    config: UsageConfig,
    provider: String,
    model: String,
    session: Mutex<Usage>,
}

impl UsageMeter {
    pub fn new(config: UsageConfig, provider: &str, model: &str) -> UsageMeter {
        UsageMeter {
            config,
            provider: provider.to_owned(),
            model: model.to_owned(),
            session: Mutex::default(),
        }
    }

    fn session(&self) -> MutexGuard<'_, Usage> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The estimated cost of `usage`, when a price is configured.
    pub fn cost(&self, usage: Usage) -> Option<f64> {
        if !self.config.priced() {
            return None;
        }
        let per_token = |price: Option<f64>, tokens: u64| price.unwrap_or(0.0) * tokens as f64;
        Some(
            (per_token(self.config.price_prompt_per_mtok, usage.prompt_tokens)
                + per_token(
                    self.config.price_completion_per_mtok,
                    usage.completion_tokens,
                ))
                / 1_000_000.0,
        )
    }

    /// `usage` as the wire writes it, with its estimated cost.
    pub fn to_wire(&self, usage: Usage) -> TokenUsage {
        TokenUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            estimated_cost: self.cost(usage).map(round_cost),
        }
    }

    /// Adds a finished turn's tokens to the session; returns the turn's and the
    /// session's totals as the wire writes them.
    pub fn record_turn(&self, usage: Usage) -> (TokenUsage, TokenUsage) {
        let session = {
            let mut session = self.session();
            session.prompt_tokens = session.prompt_tokens.saturating_add(usage.prompt_tokens);
            session.completion_tokens = session
                .completion_tokens
                .saturating_add(usage.completion_tokens);
            *session
        };
        (self.to_wire(usage), self.to_wire(session))
    }

    /// The session's totals so far.
    pub fn session_total(&self) -> Usage {
        *self.session()
    }

    /// Why a new turn must be refused, when the budget is spent.
    pub fn budget_refusal(&self) -> Option<String> {
        let spent = self.session_total();
        let tokens = spent.prompt_tokens.saturating_add(spent.completion_tokens);
        if let Some(budget) = self.config.budget_tokens
            && tokens >= budget
        {
            return Some(format!(
                "the AI budget of {budget} tokens (--ai-budget-tokens) is spent ({tokens} \
                 used since the server started); raise it or restart the server to take \
                 another turn"
            ));
        }
        if let (Some(budget), Some(cost)) = (self.config.budget_cost, self.cost(spent))
            && cost >= budget
        {
            return Some(format!(
                "the AI budget of {budget} (--ai-budget-cost) is spent (an estimated {} \
                 since the server started); raise it or restart the server to take \
                 another turn",
                round_cost(cost)
            ));
        }
        None
    }

    /// The `/api/metrics` view.
    pub fn metrics(&self) -> AiUsageMetrics {
        let session = self.to_wire(self.session_total());
        AiUsageMetrics {
            provider: self.provider.clone(),
            model: self.model.clone(),
            prompt_tokens: session.prompt_tokens,
            completion_tokens: session.completion_tokens,
            estimated_cost: session.estimated_cost,
        }
    }
}

/// Costs are shown to a millionth of the currency unit: enough for a turn of a cheap
/// model, and without float noise in the JSON.
fn round_cost(cost: f64) -> f64 {
    (cost * 1_000_000.0).round() / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
        }
    }

    #[test]
    fn a_priced_turn_reports_its_cost_and_an_unpriced_one_none() {
        let priced = UsageMeter::new(
            UsageConfig {
                price_prompt_per_mtok: Some(5.0),
                price_completion_per_mtok: Some(15.0),
                ..UsageConfig::default()
            },
            "openai",
            "m",
        );
        let (turn, session) = priced.record_turn(usage(220, 30));
        assert_eq!(turn.estimated_cost, Some(0.00155));
        assert_eq!(session.prompt_tokens, 220);
        let (_, session) = priced.record_turn(usage(1000, 0));
        assert_eq!(session.prompt_tokens, 1220);
        assert_eq!(session.estimated_cost, Some(0.00655));
        let unpriced = UsageMeter::new(UsageConfig::default(), "offline", "offline");
        assert_eq!(unpriced.record_turn(usage(0, 0)).0.estimated_cost, None);
    }

    #[test]
    fn the_token_budget_refuses_only_once_spent_and_names_its_option() {
        let meter = UsageMeter::new(
            UsageConfig {
                budget_tokens: Some(300),
                ..UsageConfig::default()
            },
            "openai",
            "m",
        );
        meter.record_turn(usage(220, 30));
        assert_eq!(meter.budget_refusal(), None, "250 of 300 spent");
        meter.record_turn(usage(40, 10));
        let refusal = meter.budget_refusal().expect("300 of 300 spent");
        assert!(refusal.contains("--ai-budget-tokens"), "{refusal}");
    }

    #[test]
    fn the_cost_budget_refuses_once_spent_and_needs_a_price() {
        let config = UsageConfig {
            price_completion_per_mtok: Some(10.0),
            budget_cost: Some(0.001),
            ..UsageConfig::default()
        };
        config.validate().expect("priced");
        let meter = UsageMeter::new(config, "openai", "m");
        meter.record_turn(usage(5000, 99));
        assert_eq!(meter.budget_refusal(), None);
        meter.record_turn(usage(0, 1));
        assert!(
            meter
                .budget_refusal()
                .expect("spent")
                .contains("--ai-budget-cost")
        );
        let unpriced = UsageConfig {
            budget_cost: Some(1.0),
            ..UsageConfig::default()
        };
        assert!(
            unpriced
                .validate()
                .expect_err("no price")
                .contains("--ai-price")
        );
    }

    #[test]
    fn a_negative_or_non_numeric_price_is_refused() {
        assert!(amount("-1").is_err());
        assert!(amount("NaN").is_err());
        assert!(amount("cheap").is_err());
        assert_eq!(amount("2.5"), Ok(2.5));
    }
}
