// Keeps the Take AI Turn button beside Foundry's chat input, wherever that input is.
// v12: `renderChatLog(app, html: jQuery, data)` fires with a freshly rendered sidebar tab whose
//      `form#chat-form` holds the `#chat-message` textarea; the button goes before the form.
// v13: the textarea and `#chat-controls` are rendered once and moved by
//      `ChatLog#_toggleNotifications` between the sidebar's `.chat-form`, the chat popout and
//      `#chat-notifications`; every move fires `renderChatInput(app, elements, options)` with
//      `elements["#chat-message"]`. The button goes directly before the textarea.

/**
 * @param {import("./button.js").AiTurnButton} button
 * @param {() => boolean} isEnabled whether this client shows the button (the GM only)
 * @param {() => void} onPlaced called after the button is placed
 */
export function registerChatPlacement(button, isEnabled, onPlaced = () => {}) {
  Hooks.on("renderChatLog", (app, html) => {
    if (!isEnabled()) return;
    // A v12 (Application v1) chat popout: the button stays in the sidebar.
    if (app?.popOut === true) return;
    const root = html instanceof HTMLElement ? html : html?.[0];
    placeNearInput(button, root?.querySelector?.("#chat-message"));
    onPlaced();
  });
  Hooks.on("renderChatInput", (_app, elements) => {
    if (!isEnabled()) return;
    placeNearInput(button, elements?.["#chat-message"]);
    onPlaced();
  });
}

/**
 * Place the button beside `input`, or beside the document's chat input when `input` is
 * missing or detached.
 * @param {import("./button.js").AiTurnButton} button
 * @param {Element|null|undefined} input
 */
export function placeNearInput(button, input) {
  const textarea = [input, document.getElementById("chat-message")].find((el) => el?.isConnected);
  if (!textarea) return;
  const v12Form = textarea.closest("form#chat-form");
  button.placeBefore(v12Form ?? textarea);
}
