//! Messages and ids built without `core::fmt`: pieces joined by [`concat`], integers
//! written by [`push_u64`] and [`push_i64`]; and [`trim`], without `str::trim`'s pattern
//! searcher.
//!
//! Why: in the WebAssembly core every `format!` is a call site that builds a
//! `fmt::Arguments` and goes through the formatting machinery, and `{}` of an integer
//! links `Display` for that type (with `Formatter::pad_integral`); together about 2 KB of
//! the .wasm (docs/BENCHMARKS.md). Joining strings by hand writes the same text. The
//! formatting machinery itself stays, for panic messages.

/// The pieces, one after the other.
pub fn concat(pieces: &[&str]) -> String {
    let mut text = String::with_capacity(pieces.iter().map(|piece| piece.len()).sum());
    for piece in pieces {
        text.push_str(piece);
    }
    text
}

/// Appends `n` in decimal, as `{}` writes it.
pub fn push_u64(out: &mut String, n: u64) {
    if n >= 10 {
        push_u64(out, n / 10);
    }
    // `n % 10` is a digit, so the sum is an ASCII digit.
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends `n` in decimal, as `{}` writes it (`-` before a negative number).
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// `text` without the whitespace (`char::is_whitespace`) at either end, as `str::trim`
/// gives it, found in one forward pass: `str::trim`'s searcher and its backward UTF-8
/// decoding were about 0.8 KB of the .wasm.
pub fn trim(text: &str) -> &str {
    let mut start = text.len();
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if !c.is_whitespace() {
            start = start.min(at);
            end = at + c.len_utf8();
        }
    }
    text.get(start..end).unwrap_or_default()
}

/// `n` in decimal, as `n.to_string()` writes it.
pub fn u64_text(n: u64) -> String {
    let mut text = String::new();
    push_u64(&mut text, n);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let unsigned = [
            0,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            4_294_967_295,
            9_007_199_254_740_991,
        ];
        for n in unsigned.into_iter().chain([u64::MAX - 1, u64::MAX]) {
            assert_eq!(u64_text(n), n.to_string());
        }
        for n in [0, 7, -1, -10, 123_456, i64::MIN, i64::MIN + 1, i64::MAX] {
            let mut text = String::from("x");
            push_i64(&mut text, n);
            assert_eq!(text, format!("x{n}"));
        }
    }

    #[test]
    fn trim_gives_what_str_trim_gives() {
        let pieces = [
            "", " ", "\t\n", "\u{a0}", "\u{3000}", "\u{2028}", "a", "é b", "😀", "\u{200b}",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = [a, b, c].concat();
                    assert_eq!(trim(&text), text.trim(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn pieces_are_joined_in_order() {
        assert_eq!(concat(&[]), "");
        assert_eq!(concat(&["a", "", "bc", "d"]), "abcd");
    }
}
