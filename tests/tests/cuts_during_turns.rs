//! The table's Wi-Fi drops again and again while the AI takes its turns: a TCP proxy
//! between the page and the real server cuts every connection at random moments (every
//! 30 to 250 ms) while the GM takes turn after turn. Every turn still ends for the module
//! (the button comes back), each turn's narration is in chat exactly once, and every
//! roll the AI asked for was rolled into chat once and accepted once.
//!
//! The cuts pause only while the GM clicks (a click on a disconnected button is refused
//! by design); they go on through the rolls, the narration and the turn's end, which is
//! where a frame written into a dying socket used to be lost.

use gold_box_e2e::page::{CONNECT_TIMEOUT, TURN_TIMEOUT, count_at};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TcpProxy, TestResult, ensure};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const TURNS: u64 = 20;
/// One that asks for dice, one that does not, in turn.
const LINES: [&str; 2] = [
    "I attack the goblin with my longsword!",
    "We sit by the fire and talk about the road ahead.",
];

fn proxy(env: &E2e) -> TestResult<&TcpProxy> {
    env.proxy
        .as_ref()
        .ok_or_else(|| "this test needs the proxy".into())
}

/// Cuts every connection at random moments until `done`, except while `hold` is set.
async fn cut_at_random(
    proxy: &TcpProxy,
    seed: u64,
    hold: &AtomicBool,
    done: &AtomicBool,
    cuts: &AtomicU64,
) {
    let mut state = seed | 1;
    while !done.load(Ordering::SeqCst) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        tokio::time::sleep(Duration::from_millis(30 + state % 220)).await;
        if !hold.load(Ordering::SeqCst) && proxy.cut() > 0 {
            cuts.fetch_add(1, Ordering::SeqCst);
        }
        proxy.restore();
    }
}

async fn turns_survive_random_cuts(env: &E2e, version: FoundryVersion) -> TestResult {
    let proxy = proxy(env)?;
    let seed = std::env::var("GOLD_BOX_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(7)
        });
    eprintln!(
        "{}: cut schedule seed {seed} (GOLD_BOX_CUT_SEED={seed} repeats it)",
        env.name
    );
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(CONNECT_TIMEOUT).await?;

    let hold = AtomicBool::new(true);
    let done = AtomicBool::new(false);
    let cuts = AtomicU64::new(0);
    let turns = async {
        let result: TestResult = async {
            for turn in 0..TURNS {
                hold.store(true, Ordering::SeqCst);
                env.wait_until_ready(CONNECT_TIMEOUT).await?;
                env.post_chat_as("Aria", LINES[(turn % 2) as usize]).await?;
                env.click_take_ai_turn().await?;
                env.wait_for_metrics("the turn started on the server", TURN_TIMEOUT, |m| {
                    count_at(m, "/websocket/ai_processing/total_requests") == turn + 1
                })
                .await?;
                hold.store(false, Ordering::SeqCst);
                // The turn's end must reach the module: the button comes back to ready.
                env.wait_for_metrics("the turn ended on the server", TURN_TIMEOUT, |m| {
                    count_at(m, "/websocket/ai_processing/completed_requests") == turn + 1
                })
                .await?;
                env.browser
                    .wait_until(
                        r#"window.__shim.button().state !== "thinking""#,
                        CONNECT_TIMEOUT + TURN_TIMEOUT,
                    )
                    .await
                    .map_err(|e| {
                        format!("turn {turn}: the module never heard the turn end: {e}")
                    })?;
            }
            Ok(())
        }
        .await;
        done.store(true, Ordering::SeqCst);
        result
    };
    let (result, ()) = tokio::join!(turns, cut_at_random(proxy, seed, &hold, &done, &cuts));
    result?;
    env.wait_until_ready(CONNECT_TIMEOUT).await?;

    let metrics = env.server.metrics().await?;
    let rolls = &metrics["websocket"]["roll_results"];
    let accepted = count_at(rolls, "/accepted");
    let roll_messages = env.roll_messages().await?;
    let ai_messages = env.ai_messages().await?;
    let cuts = cuts.load(Ordering::SeqCst);
    eprintln!(
        "{}: {TURNS} turns, {cuts} cuts, {} rolls in chat, {accepted} accepted, {} narrations, rolls by transport {}",
        env.name,
        roll_messages.len(),
        ai_messages.len(),
        rolls["by_transport"]
    );
    ensure(cuts >= 3, || {
        format!("only {cuts} cuts: the schedule proved nothing")
    })?;
    ensure(
        count_at(&metrics, "/websocket/ai_processing/completed_requests") == TURNS,
        || format!("not every turn completed: {metrics:#}"),
    )?;
    ensure(roll_messages.len() as u64 == accepted, || {
        format!(
            "{} rolls in chat but {accepted} accepted: dice were rolled twice or lost",
            roll_messages.len()
        )
    })?;
    ensure(ai_messages.len() as u64 == TURNS, || {
        format!(
            "{} narrations in chat for {TURNS} turns (one each expected): {ai_messages:#?}",
            ai_messages.len()
        )
    })?;
    env.assert_no_page_errors().await
}

async fn run(version: FoundryVersion) -> TestResult {
    let env = E2e::start_behind_proxy(&format!("cuts_during_turns_{}", version.tag())).await?;
    let outcome = turns_survive_random_cuts(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_turns_cut_at_random_all_end_with_one_narration_each_and_no_dice_twice() -> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_turns_cut_at_random_all_end_with_one_narration_each_and_no_dice_twice() -> TestResult {
    run(FoundryVersion::V13).await
}
