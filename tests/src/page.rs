//! Reading and driving the module in the shim page the way a GM and Foundry would: the
//! core's state through `game.modules.get("gold-box").api`, the button and the chat log
//! through the DOM and `game.messages`, a click on the button through WebDriver, and the
//! server's side through `/api/metrics`.

use crate::{E2e, TestResult, ensure};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The Take AI Turn button.
pub const BUTTON: &str = "#gold-box-ai-turn-btn";
/// The module's flag scope on the chat messages it creates.
pub const MODULE_FLAG: &str = "gold-box";

/// The handshake with the real server, from page load or after a reconnect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The UI following an event.
pub const UI_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole AI turn with the offline AI, rolls included.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(20);
/// How often server-side conditions are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The JavaScript expression that is true when the core is in `state`.
pub fn core_state_is(state: &str) -> String {
    format!(r#"game.modules.get("gold-box")?.api?.state() === "{state}""#)
}

/// The JavaScript expression that is true when the button shows `state`.
pub fn button_state_is(state: &str) -> String {
    format!(r#"window.__shim.button().state === "{state}""#)
}

/// A JSON pointer's value in `value` as an integer (absent counts as 0: the metrics leave
/// out counters that never moved).
pub fn count_at(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Whether `text` contains `number` as a whole number (not as part of a longer one).
pub fn mentions_number(text: &str, number: f64) -> bool {
    let wanted = if number.fract() == 0.0 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    };
    let bytes = text.as_bytes();
    text.match_indices(&wanted).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + wanted.len()).copied();
        let digit_or_minus = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit() || b == b'-');
        let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
        !digit_or_minus(before) && !digit(after)
    })
}

impl E2e {
    /// The core's connection state.
    pub async fn core_state(&self) -> TestResult<String> {
        let state = self
            .browser
            .eval(r#"return game.modules.get("gold-box")?.api?.state() ?? null;"#)
            .await?;
        Ok(state.as_str().unwrap_or("(no core)").to_owned())
    }

    /// Waits until the core is connected and the button shows ready.
    pub async fn wait_until_ready(&self, timeout: Duration) -> TestResult {
        self.browser
            .wait_until(&core_state_is("connected"), timeout)
            .await?;
        self.browser
            .wait_until(&button_state_is("ready"), UI_TIMEOUT)
            .await
    }

    /// `{count, visible, state, label, title, disabled, classes, ...}` of the button.
    pub async fn button(&self) -> TestResult<Value> {
        self.browser.eval("return window.__shim.button();").await
    }

    /// Starts recording every state the button shows (its `data-state`), from now on.
    /// The button element is kept across re-renders, so one observer sees them all.
    pub async fn record_button_states(&self) -> TestResult {
        self.browser
            .eval(
                r##"const button = document.querySelector("#gold-box-ai-turn-btn");
                window.__buttonStates = [button.dataset.state];
                window.__buttonObserver?.disconnect();
                window.__buttonObserver = new MutationObserver(() => {
                  const state = button.dataset.state;
                  if (window.__buttonStates.at(-1) !== state) window.__buttonStates.push(state);
                });
                window.__buttonObserver.observe(button, { attributes: true, attributeFilter: ["data-state"] });
                return null;"##,
            )
            .await?;
        Ok(())
    }

    /// The states recorded since [`E2e::record_button_states`], in order.
    pub async fn button_states(&self) -> TestResult<Vec<String>> {
        let states = self
            .browser
            .eval("return window.__buttonStates ?? [];")
            .await?;
        Ok(states
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|s| s.as_str().unwrap_or("?").to_owned())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Posts `content` to chat as `alias` (a player's in-character line) through
    /// `ChatMessage.create`; returns the message id.
    pub async fn post_chat_as(&self, alias: &str, content: &str) -> TestResult<String> {
        let id = self
            .browser
            .eval_async(&format!(
                "return await window.__shim.postChat({content}, {{ alias: {alias} }});",
                content = Value::from(content),
                alias = Value::from(alias),
            ))
            .await?;
        id.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("ChatMessage.create did not create {content:?}").into())
    }

    /// Queues die faces for the next rolls of Foundry's dice (the shim's `Die#roll`).
    pub async fn queue_dice(&self, faces: &[u32]) -> TestResult {
        self.browser
            .eval(&format!(
                "window.__shim.queueDice({}); return null;",
                Value::from(faces.to_vec())
            ))
            .await?;
        Ok(())
    }

    /// Every chat message, as the shim's `messages()` describes them.
    pub async fn messages(&self) -> TestResult<Vec<Value>> {
        let all = self
            .browser
            .eval("return window.__shim.messages();")
            .await?;
        Ok(all.as_array().cloned().unwrap_or_default())
    }

    /// The chat messages the module created for the AI's words: not rolls, and flagged
    /// with the module's scope and the message kind (`narration`, `roll_summary`, `error`).
    pub async fn ai_messages(&self) -> TestResult<Vec<Value>> {
        Ok(self
            .messages()
            .await?
            .into_iter()
            .filter(|m| m["isRoll"] != true && m["flags"][MODULE_FLAG]["kind"].is_string())
            .collect())
    }

    /// The roll messages in chat (those carrying rolls).
    pub async fn roll_messages(&self) -> TestResult<Vec<Value>> {
        Ok(self
            .messages()
            .await?
            .into_iter()
            .filter(|m| m["isRoll"] == true)
            .collect())
    }

    /// Waits until the module has posted at least `count` AI messages; returns them all.
    pub async fn wait_for_ai_messages(
        &self,
        count: usize,
        timeout: Duration,
    ) -> TestResult<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.ai_messages().await?;
            if messages.len() >= count {
                return Ok(messages);
            }
            if Instant::now() >= deadline {
                let notifications = self
                    .browser
                    .eval("return window.__shim.notifications;")
                    .await
                    .unwrap_or(Value::Null);
                return Err(format!(
                    "timed out after {timeout:?} waiting for {count} AI message(s); chat: {:#?}; \
                     notifications: {notifications}",
                    self.messages().await.unwrap_or_default()
                )
                .into());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The GM clicks Take AI Turn: checks that the button is there, visible, ready and
    /// enabled, then clicks it through WebDriver (real pointer events, as a user would).
    pub async fn click_take_ai_turn(&self) -> TestResult {
        self.browser
            .wait_until(&button_state_is("ready"), UI_TIMEOUT)
            .await?;
        let button = self.button().await?;
        ensure(
            button["count"] == 1 && button["visible"] == true && button["disabled"] == false,
            || format!("the button cannot be clicked: {button}"),
        )?;
        self.browser.click(BUTTON).await
    }

    /// The rendered text of one chat message in the chat log's DOM (without the GM's usage
    /// footer), once Foundry has rendered it (bounded by [`UI_TIMEOUT`]).
    pub async fn rendered_message_text(&self, message_id: &str) -> TestResult<String> {
        let selector = format!(
            r#".chat-message[data-message-id={}] .message-content"#,
            Value::from(message_id)
        );
        let query = format!("document.querySelector({})", Value::from(selector.as_str()));
        self.browser
            .wait_until(&query, UI_TIMEOUT)
            .await
            .map_err(|e| format!("message {message_id} is not rendered in the chat log: {e}"))?;
        // The GM's usage footer (usage-footer.js) is drawn into the same element by the
        // render hook; it is not the message's text.
        let text = self
            .browser
            .eval(&format!(
                "const node = {query}?.cloneNode(true); \
                 node?.querySelectorAll('.gold-box-usage').forEach((footer) => footer.remove()); \
                 return node?.textContent ?? null;"
            ))
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until the server's `/api/metrics` satisfies `condition`; returns them.
    pub async fn wait_for_metrics(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&Value) -> bool,
    ) -> TestResult<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let metrics = self.server.metrics().await?;
            if condition(&metrics) {
                return Ok(metrics);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for the server's metrics to show {what}; \
                     last: {metrics:#}"
                )
                .into());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Fails with the page's uncaught errors, if it had any.
    pub async fn assert_no_page_errors(&self) -> TestResult {
        let errors = self.browser.page_errors().await?;
        ensure(errors.is_empty(), || {
            format!("the page had uncaught errors: {errors:#?}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::mentions_number;

    #[test]
    fn numbers_are_found_whole() {
        assert!(mentions_number("Aria rolls 17: a hit.", 17.0));
        assert!(mentions_number("17 against AC 15", 17.0));
        assert!(!mentions_number("Aria rolls 117.", 17.0));
        assert!(!mentions_number("Aria rolls 171.", 17.0));
        assert!(mentions_number("a total of -2.", -2.0));
        assert!(mentions_number("7.5 damage", 7.5));
    }
}
