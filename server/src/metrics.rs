//! What the server counts (seed items 2.3, 4.2 and 4.3), kept in Prometheus metrics so
//! that `/metrics` and `/api/metrics` read the same numbers.
//!
//! Counters and histograms are prometheus-client's own atomics; the JSON view reads
//! them back. Two things Prometheus does not keep are kept beside it: roll latency
//! percentiles over every result since start (an HDR histogram, fixed memory) with the
//! last 100 values, and the last error with its time.

use crate::rolls::Resolution;
use gold_box_protocol::{
    AiProcessingMetrics, ClientMessage, ConnectionMetrics, LatencyMetrics, RollAckStatus,
    RollResultMetrics, ServerMessage, TurnStatus,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How many recent roll latencies `/api/metrics` lists.
pub const RECENT_LATENCIES: usize = 100;

/// How a roll result reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Ws,
    Http,
}

impl Transport {
    pub const ALL: [Transport; 2] = [Transport::Ws, Transport::Http];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Http => "http",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageLabels {
    message_type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RollLabels {
    status: &'static str,
    transport: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: &'static str,
}

/// Buckets for sub-millisecond to multi-second latencies: 50 µs doubling 20 times.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TurnLabels {
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    /// `prompt` or `completion`.
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: String,
    model: String,
}

/// Latencies in microseconds, over every accepted result, plus the most recent ones.
#[derive(Debug)]
struct LatencyStats {
    all: hdrhistogram::Histogram<u64>,
    recent: VecDeque<f64>,
}

/// A running mean of durations (prometheus-client does not read its sums back).
#[derive(Debug, Default)]
struct Mean {
    total_micros: AtomicU64,
    count: AtomicU64,
}

impl Mean {
    fn add(&self, duration: Duration) {
        self.total_micros
            .fetch_add(micros(duration), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn millis(&self) -> f64 {
        match self.count.load(Ordering::Relaxed) {
            0 => 0.0,
            count => self.total_micros.load(Ordering::Relaxed) as f64 / 1000.0 / count as f64,
        }
    }
}

/// The label the server counts an unreadable frame under.
pub const INVALID_FRAME: &str = "invalid";

/// Every metric the server keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connections_total: Counter,
    connections_successful: Counter,
    connections_failed: Counter,
    connections_active: Gauge,
    connect_seconds: Histogram,
    messages_sent: Family<MessageLabels, Counter>,
    messages_received: Family<MessageLabels, Counter>,
    errors: Counter,
    roll_results: Family<RollLabels, Counter>,
    roll_latency_seconds: Family<TransportLabels, Histogram, fn() -> Histogram>,
    ai_turns: Counter,
    ai_turns_finished: Family<TurnLabels, Counter>,
    ai_busy_rejections: Counter,
    ai_budget_rejections: Counter,
    ai_tokens: Family<TokenLabels, Counter>,
    ai_estimated_cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    ai_turn_seconds: Histogram,
    connect_mean: Mean,
    ai_turn_mean: Mean,
    last_error: Mutex<Option<(String, u64)>>,
    latency: Mutex<LatencyStats>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gold_box");
        let m = Metrics {
            connections_total: Counter::default(),
            connections_successful: Counter::default(),
            connections_failed: Counter::default(),
            connections_active: Gauge::default(),
            connect_seconds: latency_histogram(),
            messages_sent: Family::default(),
            messages_received: Family::default(),
            errors: Counter::default(),
            roll_results: Family::default(),
            roll_latency_seconds: Family::new_with_constructor(latency_histogram),
            ai_turns: Counter::default(),
            ai_turns_finished: Family::default(),
            ai_busy_rejections: Counter::default(),
            ai_budget_rejections: Counter::default(),
            ai_tokens: Family::default(),
            ai_estimated_cost: Family::default(),
            ai_turn_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            connect_mean: Mean::default(),
            ai_turn_mean: Mean::default(),
            last_error: Mutex::new(None),
            latency: Mutex::new(LatencyStats {
                // 1 µs to 1 hour at two significant figures: a few kilobytes, forever.
                all: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2).unwrap_or_else(
                    |_| hdrhistogram::Histogram::new(2).unwrap_or_else(|_| unreachable!()),
                ),
                recent: VecDeque::with_capacity(RECENT_LATENCIES),
            }),
            registry: Registry::default(),
        };
        registry.register(
            "ws_upgrades",
            "WebSocket upgrades",
            m.connections_total.clone(),
        );
        registry.register(
            "ws_handshakes",
            "Completed handshakes",
            m.connections_successful.clone(),
        );
        registry.register(
            "ws_failed_handshakes",
            "Refused upgrades and handshakes",
            m.connections_failed.clone(),
        );
        registry.register(
            "ws_connections_active",
            "Open connections",
            m.connections_active.clone(),
        );
        registry.register(
            "ws_connect_seconds",
            "Time from upgrade to connected",
            m.connect_seconds.clone(),
        );
        registry.register(
            "ws_messages_sent",
            "Frames sent, by type",
            m.messages_sent.clone(),
        );
        registry.register(
            "ws_messages_received",
            "Frames received, by type",
            m.messages_received.clone(),
        );
        registry.register(
            "errors",
            "Error frames sent and internal errors",
            m.errors.clone(),
        );
        registry.register(
            "roll_results",
            "Roll results received, by status and transport",
            m.roll_results.clone(),
        );
        registry.register(
            "roll_result_latency_seconds",
            "From sending execute_roll to accepting its result",
            m.roll_latency_seconds.clone(),
        );
        registry.register("ai_turns", "AI turns started", m.ai_turns.clone());
        registry.register(
            "ai_turns_finished",
            "AI turns finished, by status",
            m.ai_turns_finished.clone(),
        );
        registry.register(
            "ai_busy_rejections",
            "chat_requests refused because a turn was running",
            m.ai_busy_rejections.clone(),
        );
        registry.register(
            "ai_budget_rejections",
            "chat_requests refused because the AI budget was spent",
            m.ai_budget_rejections.clone(),
        );
        registry.register(
            "ai_tokens",
            "Tokens the AI provider counted, by provider, model and kind (prompt, completion)",
            m.ai_tokens.clone(),
        );
        registry.register(
            "ai_estimated_cost",
            "Estimated cost of the AI's tokens by the configured prices, by provider and model",
            m.ai_estimated_cost.clone(),
        );
        registry.register(
            "ai_turn_seconds",
            "AI turn durations",
            m.ai_turn_seconds.clone(),
        );
        // Every known label exists from the start, so dashboards see zeros, not gaps.
        for transport in Transport::ALL {
            let _ = m.roll_latency_seconds.get_or_create(&TransportLabels {
                transport: transport.as_str(),
            });
        }
        for status in RollAckStatus::ALL {
            for transport in Transport::ALL {
                let _ = m.roll_results.get_or_create(&RollLabels {
                    status: status.as_str(),
                    transport: transport.as_str(),
                });
            }
        }
        Metrics { registry, ..m }
    }

    pub fn upgrade(&self) {
        self.connections_total.inc();
    }

    pub fn handshake_failed(&self, reason: &str) {
        self.connections_failed.inc();
        self.record_error(format!("handshake refused: {reason}"));
    }

    pub fn connected(&self, connect_time: Duration) {
        self.connections_successful.inc();
        self.connections_active.inc();
        self.connect_seconds.observe(connect_time.as_secs_f64());
        self.connect_mean.add(connect_time);
    }

    pub fn disconnected(&self) {
        self.connections_active.dec();
    }

    pub fn received(&self, message_type: &'static str) {
        self.messages_received
            .get_or_create(&MessageLabels { message_type })
            .inc();
    }

    pub fn sent(&self, message: &ServerMessage) {
        self.messages_sent
            .get_or_create(&MessageLabels {
                message_type: message.type_name(),
            })
            .inc();
        if let ServerMessage::Error(error) = message {
            self.errors.inc();
            self.set_last_error(format!("{}: {}", error.code, error.message));
        }
    }

    /// An internal error (not an error frame).
    pub fn record_error(&self, message: String) {
        self.errors.inc();
        self.set_last_error(message);
    }

    fn set_last_error(&self, message: String) {
        *lock(&self.last_error) = Some((message, crate::now_ms()));
    }

    pub fn roll_result(&self, transport: Transport, resolution: &Resolution) {
        self.roll_results
            .get_or_create(&RollLabels {
                status: resolution.status.as_str(),
                transport: transport.as_str(),
            })
            .inc();
        if let Some(latency) = resolution.latency {
            self.roll_latency_seconds
                .get_or_create(&TransportLabels {
                    transport: transport.as_str(),
                })
                .observe(latency.as_secs_f64());
            let mut stats = lock(&self.latency);
            stats.all.saturating_record(micros(latency).max(1));
            if stats.recent.len() == RECENT_LATENCIES {
                stats.recent.pop_front();
            }
            stats.recent.push_back(latency.as_secs_f64() * 1000.0);
        }
    }

    pub fn turn_started(&self) {
        self.ai_turns.inc();
    }

    pub fn turn_busy(&self) {
        self.ai_busy_rejections.inc();
    }

    pub fn turn_over_budget(&self) {
        self.ai_budget_rejections.inc();
    }

    /// Counts one turn's tokens (and their estimated cost, when priced).
    pub fn tokens_used(
        &self,
        provider: &str,
        model: &str,
        usage: crate::ai::messages::Usage,
        cost: Option<f64>,
    ) {
        for (kind, tokens) in [
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
        ] {
            self.ai_tokens
                .get_or_create(&TokenLabels {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    kind,
                })
                .inc_by(tokens);
        }
        if let Some(cost) = cost {
            self.ai_estimated_cost
                .get_or_create(&ModelLabels {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                })
                .inc_by(cost);
        }
    }

    pub fn turn_finished(&self, status: TurnStatus, duration: Duration) {
        let status = match status {
            TurnStatus::Completed => "completed",
            TurnStatus::Failed => "failed",
            TurnStatus::Timeout => "timeout",
            TurnStatus::Cancelled => "cancelled",
        };
        self.ai_turns_finished
            .get_or_create(&TurnLabels { status })
            .inc();
        self.ai_turn_seconds.observe(duration.as_secs_f64());
        self.ai_turn_mean.add(duration);
    }

    /// The Prometheus text exposition.
    pub fn encode_prometheus(&self, pending_rolls: usize, ai_busy: bool) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        text.push_str("# HELP gold_box_pending_roll_requests Roll requests awaiting a result.\n");
        text.push_str("# TYPE gold_box_pending_roll_requests gauge\n");
        text.push_str(&format!("gold_box_pending_roll_requests {pending_rolls}\n"));
        text.push_str("# HELP gold_box_ai_busy Whether an AI turn is running.\n");
        text.push_str("# TYPE gold_box_ai_busy gauge\n");
        text.push_str(&format!("gold_box_ai_busy {}\n", u8::from(ai_busy)));
        let _ = prometheus_client::encoding::text::encode_eof(&mut text);
        text
    }

    fn by_type<'a>(
        family: &Family<MessageLabels, Counter>,
        types: impl Iterator<Item = &'a &'static str>,
    ) -> BTreeMap<String, u64> {
        types
            .filter_map(|message_type| {
                let count = family.get(&MessageLabels { message_type })?.get();
                (count > 0).then(|| ((*message_type).to_owned(), count))
            })
            .collect()
    }

    pub fn connections(&self) -> ConnectionMetrics {
        let received_types = ClientMessage::TYPES.iter().chain([INVALID_FRAME].iter());
        let messages_sent_by_type = Self::by_type(&self.messages_sent, ServerMessage::TYPES.iter());
        let messages_received_by_type = Self::by_type(&self.messages_received, received_types);
        let last_error = lock(&self.last_error).clone();
        ConnectionMetrics {
            total: self.connections_total.get(),
            successful: self.connections_successful.get(),
            failed: self.connections_failed.get(),
            active: u64::try_from(self.connections_active.get()).unwrap_or(0),
            average_connect_time_ms: self.connect_mean.millis(),
            messages_sent: messages_sent_by_type.values().sum(),
            messages_received: messages_received_by_type.values().sum(),
            messages_sent_by_type,
            messages_received_by_type,
            errors: self.errors.get(),
            last_error_time: last_error.as_ref().map(|(_, at)| *at),
            last_error: last_error.map(|(message, _)| message),
        }
    }

    pub fn roll_results(&self) -> RollResultMetrics {
        let count = |status: RollAckStatus, transport: Transport| {
            self.roll_results
                .get(&RollLabels {
                    status: status.as_str(),
                    transport: transport.as_str(),
                })
                .map(|c| c.get())
                .unwrap_or(0)
        };
        let by_status = |status| Transport::ALL.iter().map(|t| count(status, *t)).sum();
        let by_transport = Transport::ALL
            .iter()
            .map(|t| {
                let total = RollAckStatus::ALL.iter().map(|s| count(*s, *t)).sum();
                (t.as_str().to_owned(), total)
            })
            .collect();
        let stats = lock(&self.latency);
        let ms = |micros: u64| micros as f64 / 1000.0;
        let empty = stats.all.is_empty();
        RollResultMetrics {
            accepted: by_status(RollAckStatus::Accepted),
            duplicate: by_status(RollAckStatus::Duplicate),
            expired: by_status(RollAckStatus::Expired),
            unknown: by_status(RollAckStatus::Unknown),
            forbidden: by_status(RollAckStatus::Forbidden),
            invalid: by_status(RollAckStatus::Invalid),
            by_transport,
            latency_ms: LatencyMetrics {
                p50: if empty {
                    0.0
                } else {
                    ms(stats.all.value_at_quantile(0.5))
                },
                p99: if empty {
                    0.0
                } else {
                    ms(stats.all.value_at_quantile(0.99))
                },
                max: if empty { 0.0 } else { ms(stats.all.max()) },
                recent: stats.recent.iter().copied().collect(),
            },
        }
    }

    pub fn ai_processing(&self) -> AiProcessingMetrics {
        let finished = |status| {
            self.ai_turns_finished
                .get(&TurnLabels { status })
                .map(|c| c.get())
                .unwrap_or(0)
        };
        AiProcessingMetrics {
            total_requests: self.ai_turns.get(),
            completed_requests: finished("completed"),
            failed_requests: finished("failed"),
            timeout_requests: finished("timeout"),
            busy_rejections: self.ai_busy_rejections.get(),
            average_processing_time_ms: self.ai_turn_mean.millis(),
            cancelled_requests: finished("cancelled"),
            budget_rejections: self.ai_budget_rejections.get(),
            usage: gold_box_protocol::AiUsageMetrics::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_results_are_counted_by_status_and_by_transport() {
        let metrics = Metrics::new();
        let accepted = Resolution {
            status: RollAckStatus::Accepted,
            error: None,
            latency: Some(Duration::from_micros(800)),
        };
        let duplicate = Resolution {
            status: RollAckStatus::Duplicate,
            error: None,
            latency: None,
        };
        metrics.roll_result(Transport::Ws, &accepted);
        metrics.roll_result(Transport::Http, &duplicate);
        metrics.roll_result(Transport::Http, &duplicate);
        let rolls = metrics.roll_results();
        assert_eq!((rolls.accepted, rolls.duplicate), (1, 2));
        assert_eq!(rolls.by_transport["ws"], 1);
        assert_eq!(rolls.by_transport["http"], 2);
        assert!(
            (rolls.latency_ms.max - 0.8).abs() < 0.01,
            "{}",
            rolls.latency_ms.max
        );
        assert_eq!(rolls.latency_ms.recent, vec![0.8]);
    }

    #[test]
    fn only_the_last_hundred_latencies_are_listed() {
        let metrics = Metrics::new();
        for micros in 1..=150u64 {
            metrics.roll_result(
                Transport::Ws,
                &Resolution {
                    status: RollAckStatus::Accepted,
                    error: None,
                    latency: Some(Duration::from_micros(micros * 10)),
                },
            );
        }
        let rolls = metrics.roll_results();
        assert_eq!(rolls.latency_ms.recent.len(), RECENT_LATENCIES);
        assert_eq!(rolls.latency_ms.recent[0], 0.51);
        assert!(rolls.latency_ms.p50 > 0.6 && rolls.latency_ms.p50 < 0.9);
    }

    #[test]
    fn the_prometheus_text_names_every_family() {
        let metrics = Metrics::new();
        metrics.received("ping");
        let text = metrics.encode_prometheus(3, true);
        for name in [
            "gold_box_ws_upgrades_total",
            "gold_box_ws_messages_received_total{message_type=\"ping\"} 1",
            "gold_box_roll_results_total{status=\"accepted\",transport=\"http\"} 0",
            "gold_box_roll_result_latency_seconds_bucket",
            "gold_box_pending_roll_requests 3",
            "gold_box_ai_busy 1",
            "# EOF",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }

    #[test]
    fn error_frames_set_the_last_error() {
        let metrics = Metrics::new();
        metrics.sent(&ServerMessage::Error(gold_box_protocol::ErrorData {
            code: gold_box_protocol::ErrorCode::AiBusy,
            message: "busy".into(),
        }));
        let connections = metrics.connections();
        assert_eq!(connections.errors, 1);
        assert_eq!(connections.last_error.as_deref(), Some("AI_BUSY: busy"));
        assert!(connections.last_error_time.is_some());
    }
}
