//! The AI sees only what the whole table may see, and its dice are safe in Foundry.
//!
//! The scenarios run the real server with its OpenAI-compatible provider pointed at a local
//! endpoint ([`FakeAi`]) that records every request the server sends the AI: what the AI was
//! given is read there, on the server's side of the `chat_request`, not from the page. The
//! context scenario also reads the raw `chat_request` frames as the server received them, from
//! a recording proxy between the page and the server ([`gold_box_e2e::TcpProxy::page_frames`]).
//!
//! - A player whispers the GM a secret and a blind roll is made; a public line is posted. The
//!   AI's turn carries the public line and neither secret; the module's debug log counts the
//!   two it left out. Allowing private context changes nothing while the AI's output is
//!   public, nor while the GM reviews narration that is then published to everyone; with output
//!   for the GMs only, the private messages reach the AI and the AI's words are whispered to
//!   the GMs.
//! - The AI asks for a roll whose flavor is HTML, while the GM controls a token, fulfils dice
//!   by hand and left the chat on blind (or self) rolls: the roll is made with Foundry's digital
//!   dice without opening the manual-dice prompt, posted publicly, spoken by the AI (no actor,
//!   no token), and its flavor shows as text. With the AI's output set to the GMs only, its
//!   next roll is whispered to the GMs, and not blind, whatever the GM's own mode.

use gold_box_e2e::fake_ai::{FakeAi, answer, tool_call};
use gold_box_e2e::page::{TURN_TIMEOUT, UI_TIMEOUT};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PUBLIC_LINE: &str = "I search the dusty shelves for the map.";
/// The public line as rich text, the way v14's ProseMirror chat input sends it.
const PUBLIC_LINE_HTML: &str = "<p>I search the <strong>dusty</strong> shelves for the map.</p>";
const WHISPERED_SECRET: &str = "SECRET-WHISPER: I pocket the ruby when nobody looks";
const BLIND_FLAVOR: &str = "BLIND-STEALTH-CHECK";
const BLIND_FORMULA: &str = "1d20+7";

/// Everything the AI endpoint received since `from`, as one text.
fn received_text(ai: &FakeAi, from: usize) -> String {
    ai.received()
        .iter()
        .skip(from)
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every text frame the page sent the server, as the server received them.
fn page_frames(env: &E2e) -> TestResult<Vec<String>> {
    env.proxy
        .as_ref()
        .ok_or("this test needs the recording proxy")?
        .page_frames()
}

/// Clicks Take AI Turn and waits until the turn is over and the button ready again.
async fn take_turn(env: &E2e, turns_before: u64) -> TestResult {
    env.click_take_ai_turn().await?;
    env.wait_for_metrics("the turn's end", TURN_TIMEOUT, |m| {
        page::count_at(m, "/websocket/ai_processing/completed_requests") > turns_before
    })
    .await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), UI_TIMEOUT)
        .await
}

async fn context_holds_only_what_the_table_may_see(
    env: &E2e,
    ai: &FakeAi,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;

    env.post_chat_as("Aria", PUBLIC_LINE_HTML).await?;
    env.browser
        .eval_async(&format!(
            "return await window.__shim.postChat({}, {{ alias: 'Bram', from: 'player', whisperTo: 'gm' }});",
            Value::from(WHISPERED_SECRET)
        ))
        .await?;
    env.browser
        .eval_async(&format!(
            "return await window.__shim.postRoll({}, {{ flavor: {}, alias: 'Bram', mode: 'blind' }});",
            Value::from(BLIND_FORMULA),
            Value::from(BLIND_FLAVOR)
        ))
        .await?;
    let chat = env.messages().await?;
    ensure(
        chat.len() == 3
            && chat[1]["whisper"].as_array().is_some_and(|w| !w.is_empty())
            && chat[2]["blind"] == true,
        || format!("the page did not make a whisper and a blind roll: {chat:#?}"),
    )?;

    // Turn 1: public output (the default), private messages not allowed.
    take_turn(env, 0).await?;
    let seen = received_text(ai, 0);
    ensure(seen.contains(PUBLIC_LINE), || {
        format!("the AI did not get the public line as plain text (so nothing is proven): {seen}")
    })?;
    ensure(!seen.contains("<strong>") && !seen.contains("<p>"), || {
        format!("rich-text markup reached the AI: {seen}")
    })?;
    for secret in [WHISPERED_SECRET, BLIND_FLAVOR, BLIND_FORMULA] {
        ensure(!seen.contains(secret), || {
            format!("the AI was sent {secret:?}, which not every player may see: {seen}")
        })?;
    }
    let console = env.browser.console_log().await?;
    ensure(
        console.iter().any(|line| {
            line["level"] == "debug"
                && line["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("left out 2 private message(s)"))
        }),
        || format!("the debug log does not count the 2 messages left out: {console:#?}"),
    )?;

    // Turn 2: private messages allowed, but the output is still public: nothing changes.
    let before = ai.received().len();
    env.browser
        .eval_async("await window.__shim.setSetting('contextIncludePrivate', true); return null;")
        .await?;
    take_turn(env, 1).await?;
    let seen = received_text(ai, before);
    ensure(
        seen.contains(PUBLIC_LINE)
            && !seen.contains(WHISPERED_SECRET)
            && !seen.contains(BLIND_FLAVOR),
        || format!("private messages reached an AI whose output is public: {seen}"),
    )?;

    // Turn 3: the GM reviews the narration first: the draft goes to the GMs only, but what
    // is published goes to everyone (and the dice are public at once), so the private
    // messages still stay out.
    let before = ai.received().len();
    env.browser
        .eval_async("await window.__shim.setSetting('narrationRelease', 'review'); return null;")
        .await?;
    take_turn(env, 2).await?;
    let seen = received_text(ai, before);
    ensure(
        seen.contains(PUBLIC_LINE)
            && !seen.contains(WHISPERED_SECRET)
            && !seen.contains(BLIND_FLAVOR),
        || format!("private messages reached an AI whose reviewed output becomes public: {seen}"),
    )?;
    env.browser
        .eval_async("await window.__shim.setSetting('narrationRelease', 'publish'); return null;")
        .await?;

    // The raw frames the page sent the server in those three turns: the chat_requests carry
    // the public line and neither secret, and no other frame carries them.
    let frames = page_frames(env)?;
    let requests: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains(r#""type":"chat_request""#))
        .collect();
    ensure(
        requests.len() == 3 && requests.iter().all(|f| f.contains(PUBLIC_LINE)),
        || {
            format!(
                "the server did not receive three chat_requests with the public line: {frames:#?}"
            )
        },
    )?;
    for secret in [WHISPERED_SECRET, BLIND_FLAVOR, BLIND_FORMULA] {
        ensure(!frames.iter().any(|f| f.contains(secret)), || {
            format!(
                "the page sent the server {secret:?}, which not every player may see: {frames:#?}"
            )
        })?;
    }

    // Turn 4: output for the GMs only: the private messages may now reach the AI, and its
    // words go to the GMs only.
    let before = ai.received().len();
    env.browser
        .eval_async("await window.__shim.setSetting('aiMessageMode', 'gm'); return null;")
        .await?;
    take_turn(env, 3).await?;
    let seen = received_text(ai, before);
    ensure(
        seen.contains(WHISPERED_SECRET) && seen.contains(BLIND_FLAVOR),
        || format!("with GM-only output and private context allowed, the AI lacks them: {seen}"),
    )?;
    // The recorder sees them in the page's frames once they are sent: the check above can fail.
    let frames = page_frames(env)?;
    ensure(
        frames.iter().any(|f| {
            f.contains(r#""type":"chat_request""#)
                && f.contains(WHISPERED_SECRET)
                && f.contains(BLIND_FLAVOR)
        }),
        || format!("the recorded frames lack turn 4's private chat_request: {frames:#?}"),
    )?;
    let narrations = env.ai_messages().await?;
    let last = narrations.last().ok_or("no AI message after four turns")?;
    ensure(
        last["whisper"].as_array().is_some_and(|w| !w.is_empty()) && last["blind"] == false,
        || format!("the GM-only narration is not whispered to the GMs: {last}"),
    )?;
    let first = &narrations[0];
    ensure(
        first["whisper"].as_array().is_some_and(Vec::is_empty) && first["blind"] == false,
        || format!("the first, public narration is not public: {first}"),
    )?;
    env.assert_no_page_errors().await
}

/// Waits until the roll the AI asked for is in chat. A manual-dice prompt opened on the way
/// is noted in `problems` and filled in, so that the rest can still be checked.
async fn wait_for_ai_roll(env: &E2e, problems: &mut Vec<String>) -> TestResult<Value> {
    let deadline = Instant::now() + TURN_TIMEOUT;
    let mut prompted = false;
    loop {
        if let Some(roll) = env.roll_messages().await?.into_iter().next() {
            return Ok(roll);
        }
        let open = env
            .browser
            .eval("return window.__shim.openResolvers();")
            .await?;
        if open.as_array().is_some_and(|o| !o.is_empty()) {
            if !prompted {
                problems.push(format!(
                    "the AI's roll opened Foundry's manual dice prompt for {open}"
                ));
                prompted = true;
            }
            env.browser
                .eval("return window.__shim.resolveManualDice([15]);")
                .await?;
        }
        if Instant::now() >= deadline {
            return Err(format!("no roll in chat after {TURN_TIMEOUT:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The GM's current mode (a v14 message mode key) as the shim stores it on each version.
fn stored_mode(version: FoundryVersion, gm_mode: &str) -> String {
    match version {
        FoundryVersion::V14 => gm_mode.to_owned(),
        FoundryVersion::V13 => format!("{gm_mode}roll"),
    }
}

async fn ai_rolls_are_safe(env: &E2e, version: FoundryVersion, gm_mode: &str) -> TestResult {
    env.open_foundry_with(
        version,
        TEST_TOKEN,
        &[
            ("controlToken", "1"),
            ("manualDice", "1"),
            ("mode", gm_mode),
        ],
    )
    .await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    let mode = env
        .browser
        .eval("return window.__shim.currentMode();")
        .await?;
    ensure(mode == stored_mode(version, gm_mode).as_str(), || {
        format!("the GM's chat is not on {gm_mode} rolls: {mode}")
    })?;
    env.post_chat_as("Aria", "I sneak up behind the guard.")
        .await?;
    env.queue_dice(&[15]).await?;
    env.click_take_ai_turn().await?;

    let mut problems = Vec::new();
    let roll = wait_for_ai_roll(env, &mut problems).await?;
    let _ = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;

    let speaker = &roll["speaker"];
    if !(speaker["actor"].is_null() && speaker["token"].is_null()) || roll["alias"] != "Gold Box" {
        problems.push(format!(
            "the AI's roll is not spoken by the AI alone (alias Gold Box, no actor, no token): {speaker}"
        ));
    }
    if !(roll["whisper"].as_array().is_some_and(Vec::is_empty) && roll["blind"] == false) {
        problems.push(format!(
            "the AI's roll took the GM's {gm_mode} roll mode instead of public: whisper {}, blind {}",
            roll["whisper"], roll["blind"]
        ));
    }
    if roll["rolls"][0]["total"] != json!(19) {
        problems.push(format!(
            "the AI's roll did not use Foundry's digital dice (d20 queued 15, +4): {}",
            roll["rolls"][0]
        ));
    }
    let id = roll["id"].as_str().unwrap_or_default();
    env.browser
        .wait_until(
            &format!("window.__shim.renderedFlavor({}) !== null", Value::from(id)),
            UI_TIMEOUT,
        )
        .await?;
    // Give an injected image's error handler the time to run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flavor = env
        .browser
        .eval(&format!(
            "return {{ shown: window.__shim.renderedFlavor({}), ran: window.__flavorRan ?? null }};",
            Value::from(id)
        ))
        .await?;
    if flavor["ran"] != Value::Null
        || flavor["shown"]["elements"] != 0
        || !flavor["shown"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("<img") && t.contains("Sneak attack"))
    {
        problems.push(format!(
            "the AI's flavor was rendered as HTML instead of text: {flavor}"
        ));
    }
    let narration = env.ai_messages().await?;
    if !narration
        .iter()
        .all(|m| m["whisper"].as_array().is_some_and(Vec::is_empty) && m["blind"] == false)
    {
        problems.push(format!("an AI message is not public: {narration:#?}"));
    }
    ensure(problems.is_empty(), || problems.join("\n"))?;
    env.browser
        .screenshot(&format!("ai-roll-safe-{gm_mode}-{}", version.tag()))
        .await?;

    // The AI's output for the GMs only: its next roll is whispered to the GMs and not blind
    // (the GM's blind mode would hide the dice from the GM who rolled them), and so are its
    // words.
    env.browser
        .eval_async("await window.__shim.setSetting('aiMessageMode', 'gm'); return null;")
        .await?;
    env.queue_dice(&[12]).await?;
    env.click_take_ai_turn().await?;
    let _ = env.wait_for_ai_messages(2, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let gms = env
        .browser
        .eval("return game.users.filter((u) => u.isGM).map((u) => u.id);")
        .await?;
    let rolls = env.roll_messages().await?;
    let second = rolls
        .get(1)
        .ok_or_else(|| format!("no second roll: {rolls:#?}"))?;
    ensure(second["whisper"] == gms && second["blind"] == false, || {
        format!(
            "the AI's roll for the GMs only is not whispered to them, unblinded (GM mode {gm_mode}): {second}"
        )
    })?;
    let narration = env.ai_messages().await?;
    let last = narration.last().ok_or("no AI message")?;
    ensure(last["whisper"] == gms && last["blind"] == false, || {
        format!("the AI's words for the GMs only are not whispered to them: {last}")
    })?;
    env.assert_no_page_errors().await
}

/// What a player's client would show of message `id` (`{visible, text, buttons}`).
async fn as_player(env: &E2e, id: &str) -> TestResult<Value> {
    env.browser
        .eval_async(&format!(
            "return await window.__shim.renderAsPlayer({});",
            Value::from(id)
        ))
        .await
}

async fn set_setting(env: &E2e, key: &str, value: Value) -> TestResult {
    env.browser
        .eval_async(&format!(
            "await window.__shim.setSetting({}, {value}); return true;",
            Value::from(key)
        ))
        .await?;
    Ok(())
}

async fn gm_ids(env: &E2e) -> TestResult<Value> {
    env.browser
        .eval("return game.users.filter((u) => u.isGM).map((u) => u.id);")
        .await
}

/// The page with the AI's output for the GMs only and private context allowed, a public
/// line and a player's whisper to the GM in chat.
async fn open_private_table(env: &E2e, version: FoundryVersion) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    set_setting(env, "aiMessageMode", json!("gm")).await?;
    set_setting(env, "contextIncludePrivate", json!(true)).await?;
    env.post_chat_as("Aria", PUBLIC_LINE).await?;
    env.browser
        .eval_async(&format!(
            "return await window.__shim.postChat({}, {{ alias: 'Bram', from: 'player', whisperTo: 'gm' }});",
            Value::from(WHISPERED_SECRET)
        ))
        .await?;
    Ok(())
}

/// The AI's words and dice made from private messages stay with the GMs when "Who sees the
/// AI" goes public while the turn runs: the turn's visibility was fixed when it was asked.
async fn a_switch_to_public_mid_turn_does_not_publish_a_private_turn(
    env: &E2e,
    ai: &FakeAi,
    version: FoundryVersion,
) -> TestResult {
    open_private_table(env, version).await?;
    env.browser
        .eval("window.__shim.holdNextRolls(1); return null;")
        .await?;
    env.click_take_ai_turn().await?;
    env.browser
        .wait_until("window.__shim.heldRolls().length > 0", TURN_TIMEOUT)
        .await
        .map_err(|e| format!("the AI's roll never reached Foundry's dice: {e}"))?;
    // The GM switches "Who sees the AI" to everyone while the AI's dice are being rolled.
    set_setting(env, "aiMessageMode", json!("public")).await?;
    env.browser
        .eval("return window.__shim.releaseRolls();")
        .await?;
    let narrations = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let seen = received_text(ai, 0);
    ensure(seen.contains(WHISPERED_SECRET), || {
        format!(
            "the AI was not given the whisper, so its output was not private (nothing is proven): {seen}"
        )
    })?;
    let gms = gm_ids(env).await?;
    let mut problems = Vec::new();
    let rolls = env.roll_messages().await?;
    let narration = narrations.last().cloned().unwrap_or_default();
    for (what, message) in [
        ("roll", rolls.first().cloned().unwrap_or_default()),
        ("narration", narration),
    ] {
        let id = message["id"].as_str().unwrap_or_default();
        // A roll for the GMs shows in a player's log as "privately rolled some dice", without
        // its flavor or its dice; words for the GMs do not show at all.
        let player = as_player(env, id).await?;
        let shown = format!("{} {}", player["text"], player["flavor"]);
        if player["visible"] == true && (shown.contains("PRIVATE-") || shown.contains("1d20")) {
            problems.push(format!(
                "a player sees the AI's {what}, made from a whisper, after the switch to public: {player}"
            ));
        }
        if message["whisper"] != gms {
            problems.push(format!(
                "the AI's {what} is not whispered to the GMs: {message}"
            ));
        }
    }
    ensure(problems.is_empty(), || problems.join("\n"))?;
    env.assert_no_page_errors().await
}

/// A draft written from private messages is never published to everyone: the GM switched
/// "Who sees the AI" to everyone before Regenerate and Publish; Publish keeps it for the GMs
/// and says why.
async fn a_switch_to_public_before_publish_keeps_a_private_draft_for_the_gms(
    env: &E2e,
    ai: &FakeAi,
    version: FoundryVersion,
) -> TestResult {
    open_private_table(env, version).await?;
    set_setting(env, "narrationRelease", json!("review")).await?;
    env.click_take_ai_turn().await?;
    let pending =
        r#"window.__shim.messages().some((m) => m.flags["gold-box"]?.review === "pending")"#;
    env.browser.wait_until(pending, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let seen = received_text(ai, 0);
    ensure(seen.contains(WHISPERED_SECRET), || {
        format!("the AI was not given the whisper (nothing is proven): {seen}")
    })?;
    let draft = env.ai_messages().await?.pop().ok_or("no draft in chat")?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();

    set_setting(env, "aiMessageMode", json!("public")).await?;
    let action = |name: &str| {
        format!(r#"#chat .chat-message[data-message-id="{id}"] [data-gold-box-action="{name}"]"#)
    };
    env.browser
        .wait_until(
            &format!(
                "document.querySelector({})",
                Value::from(action("regenerate"))
            ),
            UI_TIMEOUT,
        )
        .await?;
    env.browser.click(&action("regenerate")).await?;
    let regenerated = format!(
        r#"window.__shim.messages().some((m) => m.id === {} && m.flags["gold-box"].review === "pending" && m.flags["gold-box"].text === {})"#,
        Value::from(id.as_str()),
        Value::from(REGENERATED)
    );
    env.browser
        .wait_until(&regenerated, TURN_TIMEOUT)
        .await
        .map_err(|e| format!("the regenerated narration did not replace the draft: {e}"))?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    env.browser
        .wait_until(
            &format!("document.querySelector({})", Value::from(action("publish"))),
            UI_TIMEOUT,
        )
        .await?;
    env.browser.click(&action("publish")).await?;
    let published = format!(
        r#"window.__shim.messages().some((m) => m.id === {} && m.flags["gold-box"].review === "published")"#,
        Value::from(id.as_str())
    );
    env.browser
        .wait_until(&published, UI_TIMEOUT)
        .await
        .map_err(|e| format!("Publish did not publish the draft: {e}"))?;
    let player = as_player(env, &id).await?;
    ensure(player["visible"] == false, || {
        format!(
            "a player sees a narration written from a whisper, published after the switch to public: {player}"
        )
    })?;
    let message = env
        .messages()
        .await?
        .into_iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap_or_default();
    let gms = gm_ids(env).await?;
    ensure(message["whisper"] == gms, || {
        format!("the published private narration is not whispered to the GMs: {message}")
    })?;
    let notices = env
        .browser
        .eval("return window.__shim.notifications;")
        .await?;
    ensure(
        notices.as_array().is_some_and(|all| {
            all.iter().any(|n| {
                n["message"].as_str().is_some_and(|t| {
                    t.contains("private messages") && t.contains("game masters only")
                })
            })
        }),
        || format!("Publish did not say why the narration went to the GMs only: {notices}"),
    )?;
    env.assert_no_page_errors().await
}

const REGENERATED: &str = "PRIVATE-NARRATION: the ruby still glints in Bram's pocket.";

async fn run_mid_turn_switch(version: FoundryVersion) -> TestResult {
    let ai = FakeAi::start(vec![
        tool_call(
            "roll_dice",
            &json!({"rolls": [{"formula": "1d20+3", "flavor": "PRIVATE-ROLL: can Bram hide the ruby"}]}),
        ),
        answer("PRIVATE-NARRATION: the ruby glints in Bram's pocket."),
    ])
    .await?;
    let env = E2e::start_with(
        &format!("mid_turn_switch_{}", version.tag()),
        &ai.server_args(),
    )
    .await?;
    let outcome =
        a_switch_to_public_mid_turn_does_not_publish_a_private_turn(&env, &ai, version).await;
    env.finish(outcome).await
}

async fn run_switch_before_publish(version: FoundryVersion) -> TestResult {
    let ai = FakeAi::start(vec![
        answer("PRIVATE-NARRATION: the ruby glints in Bram's pocket."),
        answer(REGENERATED),
    ])
    .await?;
    ai.set_chunk_pause_ms(20);
    let env = E2e::start_with(
        &format!("switch_before_publish_{}", version.tag()),
        &ai.server_args(),
    )
    .await?;
    let outcome =
        a_switch_to_public_before_publish_keeps_a_private_draft_for_the_gms(&env, &ai, version)
            .await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_switch_to_public_mid_turn_leaves_the_private_turns_dice_and_words_with_the_gms()
-> TestResult {
    run_mid_turn_switch(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_switch_to_public_mid_turn_leaves_the_private_turns_dice_and_words_with_the_gms()
-> TestResult {
    run_mid_turn_switch(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_draft_written_from_private_messages_is_published_to_the_gms_only_after_a_switch_to_public()
-> TestResult {
    run_switch_before_publish(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_draft_written_from_private_messages_is_published_to_the_gms_only_after_a_switch_to_public()
-> TestResult {
    run_switch_before_publish(FoundryVersion::V14).await
}

async fn run_context(version: FoundryVersion) -> TestResult {
    let ai = FakeAi::start(vec![]).await?;
    let env = E2e::start_behind_proxy_with(
        &format!("context_table_only_{}", version.tag()),
        &ai.server_args(),
    )
    .await?;
    let outcome = context_holds_only_what_the_table_may_see(&env, &ai, version).await;
    env.finish(outcome).await
}

async fn run_safe_rolls(version: FoundryVersion, gm_mode: &str) -> TestResult {
    let flavor = r#"<img src=x onerror="window.__flavorRan=1">Sneak attack"#;
    let ai = FakeAi::start(vec![
        tool_call(
            "roll_dice",
            &json!({"rolls": [{"formula": "1d20+4", "flavor": flavor}]}),
        ),
        answer("The blade finds its mark."),
        tool_call(
            "roll_dice",
            &json!({"rolls": [{"formula": "1d20+1", "flavor": "Perception"}]}),
        ),
        answer("You hear footsteps that only the GM knows of."),
    ])
    .await?;
    let env = E2e::start_with(
        &format!("ai_rolls_safe_{gm_mode}_{}", version.tag()),
        &ai.server_args(),
    )
    .await?;
    let outcome = ai_rolls_are_safe(&env, version, gm_mode).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_the_ai_is_sent_neither_a_whisper_to_the_gm_nor_a_blind_roll_and_the_raw_chat_request_holds_neither()
-> TestResult {
    run_context(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_the_ai_is_sent_neither_a_whisper_to_the_gm_nor_a_blind_roll_and_the_raw_chat_request_holds_neither()
-> TestResult {
    run_context(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_ai_rolls_are_digital_anonymous_with_text_flavor_and_follow_the_ai_visibility_not_the_gms_blind_mode()
-> TestResult {
    run_safe_rolls(FoundryVersion::V13, "blind").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_ai_rolls_are_digital_anonymous_with_text_flavor_and_follow_the_ai_visibility_not_the_gms_blind_mode()
-> TestResult {
    run_safe_rolls(FoundryVersion::V14, "blind").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_ai_rolls_follow_the_ai_visibility_not_the_gms_self_mode() -> TestResult {
    run_safe_rolls(FoundryVersion::V13, "self").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_ai_rolls_follow_the_ai_visibility_not_the_gms_self_mode() -> TestResult {
    run_safe_rolls(FoundryVersion::V14, "self").await
}
