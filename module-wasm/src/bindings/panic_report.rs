//! Panics reported to the console with their message and place, instead of as an opaque
//! `unreachable` (the release build aborts on panic).
//!
//! Why not `console_error_panic_hook`: it renders the report with `PanicHookInfo`'s
//! `Display`, which links `core::fmt`'s padding and integer formatting into a core that
//! otherwise writes its texts by hand (protocol/src/text.rs). The report says the same
//! things: where, what, and the JavaScript stack that led there.

use gold_box_protocol::text::push_u64;
use std::panic::PanicHookInfo;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A fresh JavaScript `Error`, for its `stack`.
    type StackProbe;
    #[wasm_bindgen(js_name = Error, constructor)]
    fn new() -> StackProbe;
    #[wasm_bindgen(structural, method, getter)]
    fn stack(this: &StackProbe) -> String;
}

/// Installs the report as the panic hook.
pub fn install() {
    std::panic::set_hook(Box::new(report));
}

fn report(info: &PanicHookInfo<'_>) {
    let place = info
        .location()
        .map(|location| (location.file(), location.line(), location.column()));
    let text = report_text(place, info.payload_as_str(), &StackProbe::new().stack());
    web_sys::console::error_1(&text.into());
}

/// What the console shows: the place (file, line, column), the message, the stack.
fn report_text(place: Option<(&str, u32, u32)>, message: Option<&str>, stack: &str) -> String {
    let mut text = String::from("Gold Box core panicked at ");
    match place {
        Some((file, line, column)) => {
            text.push_str(file);
            text.push(':');
            push_u64(&mut text, u64::from(line));
            text.push(':');
            push_u64(&mut text, u64::from(column));
        }
        None => text.push_str("an unknown place"),
    }
    text.push_str(":\n");
    text.push_str(message.unwrap_or("(a panic without a text message)"));
    text.push_str("\n\nStack:\n\n");
    text.push_str(stack);
    text
}

#[cfg(test)]
mod browser_tests {
    use super::report_text;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn the_report_names_the_place_the_message_and_the_stack() {
        assert_eq!(
            report_text(
                Some(("module-wasm/src/outbox.rs", 120, 9)),
                Some("already borrowed: BorrowMutError"),
                "Error\n    at run (gold_box_wasm.js:1:2)"
            ),
            "Gold Box core panicked at module-wasm/src/outbox.rs:120:9:\n\
             already borrowed: BorrowMutError\n\nStack:\n\n\
             Error\n    at run (gold_box_wasm.js:1:2)"
        );
    }

    #[wasm_bindgen_test]
    fn a_report_without_place_or_text_says_so() {
        assert_eq!(
            report_text(None, None, ""),
            "Gold Box core panicked at an unknown place:\n\
             (a panic without a text message)\n\nStack:\n\n"
        );
    }
}
