// `ui.notifications` (Foundry's Notifications): info/warn/error(message, options) show a
// toast in `#notifications`, log to the console like Foundry, and are kept for the tests.

export class Notifications {
  /** Every notification shown, oldest first: {type, message, permanent}. */
  history = [];

  constructor(element) {
    this.element = element;
  }

  notify(message, type = "info", { localize = false, permanent = false, console: log = true } = {}) {
    let text = String(message);
    if (localize) text = globalThis.game.i18n.localize(text);
    this.history.push({ type, message: text, permanent });
    if (log) console[type === "warning" ? "warn" : type === "error" ? "error" : "info"](text);
    const li = document.createElement("li");
    li.classList.add("notification", type);
    li.textContent = text;
    this.element?.append(li);
    return { id: this.history.length, type, message: text, permanent, element: li };
  }

  info(message, options) {
    return this.notify(message, "info", options);
  }

  warn(message, options) {
    return this.notify(message, "warning", options);
  }

  error(message, options) {
    return this.notify(message, "error", options);
  }

  success(message, options) {
    return this.notify(message, "success", options);
  }
}
