//! The settings-pending indicator on the Take AI Turn button: the class
//! `settings-pending` and exactly one `span.settings-pending-indicator`, however many
//! changes there were. The JS module owns the rest of the button.

use wasm_bindgen::JsCast;

/// The button's id, shared with the JS module.
pub const BUTTON_ID: &str = "gold-box-ai-turn-btn";
/// The translation key of the indicator's tooltip and accessible label.
pub const INDICATOR_LABEL_KEY: &str = "GOLD_BOX.Indicator.SettingsPending";
const PENDING_CLASS: &str = "settings-pending";
const INDICATOR_CLASS: &str = "settings-pending-indicator";
const INDICATOR_TEXT: &str = "•";

/// Shows or clears the indicator; `label` is its localized tooltip and accessible name.
/// Without a button (not rendered yet) there is nothing to do: the JS module asks for
/// `refreshIndicator()` once it places the button.
pub fn show_settings_pending(pending: bool, label: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(button) = document.get_element_by_id(BUTTON_ID) else {
        return;
    };
    let _ = button
        .class_list()
        .toggle_with_force(PENDING_CLASS, pending);
    let selector = format!("span.{INDICATOR_CLASS}");
    let existing = button.query_selector_all(&selector).ok();
    let count = existing.as_ref().map_or(0, |list| list.length());
    // Remove every indicator but the first (all of them when clearing).
    let keep = u32::from(pending);
    for index in (keep..count).rev() {
        if let Some(node) = existing.as_ref().and_then(|list| list.item(index))
            && let Some(parent) = node.parent_node()
        {
            let _ = parent.remove_child(&node);
        }
    }
    if !pending {
        return;
    }
    let indicator = match existing.as_ref().and_then(|list| list.item(0)) {
        Some(node) => node.dyn_into::<web_sys::Element>().ok(),
        None => document.create_element("span").ok().inspect(|span| {
            let _ = span.set_attribute("class", INDICATOR_CLASS);
            span.set_text_content(Some(INDICATOR_TEXT));
            let _ = button.append_child(span);
        }),
    };
    if let Some(indicator) = indicator {
        let _ = indicator.set_attribute("title", label);
        let _ = indicator.set_attribute("aria-label", label);
        let _ = indicator.set_attribute("role", "status");
    }
}
