// `ui.notifications` (Foundry's Notifications:
// https://foundryvtt.com/api/v14/classes/foundry.applications.ui.Notifications.html and
// https://foundryvtt.com/api/v13/classes/foundry.applications.ui.Notifications.html, neither read;
// the class is listed in the v14 namespace foundry.applications.ui, read; the options
// {localize, permanent, console} and the return value are unconfirmed): info/warn/error(message, options) show a
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
