// Keeps the Take AI Turn button beside Foundry's chat input, wherever that input is.
// v13 and v14 alike: the chat input `#chat-message` (a textarea in v13, a
// `<prose-mirror>` rich-text editor in v14) and `#chat-controls` are rendered once and moved by
// `ChatLog#_toggleNotifications` between the sidebar's `.chat-form`, the chat popout and
// `#chat-notifications`; every move fires `renderChatInput(app, elements, context)` with
// `elements["#chat-message"]`. The button goes directly before the input, whatever element
// the input is and whatever controls sit around it.

/**
 * @param {import("./button.js").AiTurnButton} button
 * @param {() => boolean} isEnabled whether this client shows the button (the GM only)
 * @param {() => void} onPlaced called after the button is placed
 */
export function registerChatPlacement(button, isEnabled, onPlaced = () => {}) {
  Hooks.on("renderChatLog", (_app, html) => {
    if (!isEnabled()) return;
    placeNearInput(button, html?.querySelector?.("#chat-message"));
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
  const chatInput = [input, document.getElementById("chat-message")].find((el) => el?.isConnected);
  if (!chatInput) return;
  button.placeBefore(chatInput);
}
