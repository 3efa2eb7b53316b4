//! The offline provider's answer handed out a few words at a time, with a pause between
//! pieces, so that streaming narration works out of the box, without a model.

use super::super::delta::{Delta, DeltaSink};
use std::time::Duration;

/// Words per piece.
pub const WORDS_PER_PIECE: usize = 3;

/// The pieces `text` is handed out in: [`WORDS_PER_PIECE`] words each, the spaces kept,
/// so that the pieces joined are the text exactly.
pub fn pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut words = 0;
    let mut in_word = false;
    for (at, ch) in text.char_indices() {
        if ch.is_whitespace() {
            if in_word {
                words += 1;
                in_word = false;
                if words == WORDS_PER_PIECE {
                    pieces.push(&text[start..at]);
                    start = at;
                    words = 0;
                }
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Hands `text` to `sink` piece by piece, `interval` apart (all at once for zero).
/// Cancel-safe: dropping it stops between two pieces.
pub async fn stream(text: &str, sink: &dyn DeltaSink, interval: Duration) {
    for (n, piece) in pieces(text).into_iter().enumerate() {
        if n > 0 && !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
        sink.delta(Delta::Text(piece));
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::delta::recorded::{Recorded, Seen};
    use super::*;

    #[test]
    fn pieces_are_a_few_words_and_join_back_to_the_text() {
        let text = "The goblin  reels back, clutching its side.\nIt snarls.";
        let pieces = pieces(text);
        assert_eq!(pieces.concat(), text);
        assert_eq!(pieces[0], "The goblin  reels");
        assert!(pieces.len() >= 3, "{pieces:?}");
        assert!(super::pieces("").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn pieces_come_an_interval_apart() {
        let recorded = Recorded::default();
        let started = tokio::time::Instant::now();
        stream(
            "one two three four five six seven",
            &recorded,
            Duration::from_millis(40),
        )
        .await;
        assert_eq!(started.elapsed(), Duration::from_millis(80));
        assert_eq!(
            recorded.seen(),
            vec![
                Seen::Text("one two three".into()),
                Seen::Text(" four five six".into()),
                Seen::Text(" seven".into())
            ]
        );
    }
}
