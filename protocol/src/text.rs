//! Messages and ids built without `core::fmt`: pieces joined by [`concat`], integers
//! written by [`push_u64`] and [`push_i64`].
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
    fn pieces_are_joined_in_order() {
        assert_eq!(concat(&[]), "");
        assert_eq!(concat(&["a", "", "bc", "d"]), "abcd");
    }
}
