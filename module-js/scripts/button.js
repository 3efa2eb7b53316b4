// The Take AI Turn button: a single element whose label, title, state class and
// settings-pending indicator follow the core's events (`state`, `turn`, `settings_pending`).
// The same element is re-used whenever Foundry re-renders or moves the chat input, so what it
// shows survives the move. The indicator is the class `settings-pending` and exactly one
// `span.settings-pending-indicator`; the label lives in its own span beside it.
import { BUTTON_ID } from "./constants.js";

/** Visual states, each with a CSS class suffix and a lang key suffix. */
const VISUAL_STATES = {
  disconnected: "Disconnected",
  connecting: "Connecting",
  ready: "Ready",
  thinking: "Thinking",
  "auth-failed": "AuthFailed",
};

/** Connection states shown as "disconnected" that deserve their own explanation. */
const TITLE_OVERRIDES = {
  incompatible: "Incompatible",
  replaced: "Replaced",
};

const STATE_CLASS_PREFIX = "gold-box-state-";
const PENDING_CLASS = "settings-pending";
const INDICATOR_CLASS = "settings-pending-indicator";

export class AiTurnButton {
  /** @type {HTMLDivElement|null} */
  #wrapper = null;
  /** @type {HTMLButtonElement|null} */
  #button = null;
  /** @type {HTMLSpanElement|null} */
  #label = null;
  #connection = "idle";
  #thinking = false;
  #settingsPending = false;
  #onClick;

  /** @param {{onClick: () => void}} options */
  constructor({ onClick }) {
    this.#onClick = onClick;
  }

  /** The button element, created on first use. */
  get element() {
    this.#ensureElements();
    return this.#button;
  }

  /** The wrapper that is placed into the chat UI. */
  get container() {
    this.#ensureElements();
    return this.#wrapper;
  }

  get thinking() {
    return this.#thinking;
  }

  /** @returns {string} one of the keys of VISUAL_STATES */
  get visualState() {
    if (this.#thinking) return "thinking";
    switch (this.#connection) {
      case "connected": return "ready";
      case "connecting": case "reconnecting": return "connecting";
      case "auth_failed": return "auth-failed";
      default: return "disconnected";
    }
  }

  /** @param {string} state the core's connection state */
  setConnection(state) {
    this.#connection = state;
    this.#render();
  }

  /** @param {boolean} thinking whether an AI turn is running */
  setThinking(thinking) {
    this.#thinking = thinking;
    this.#render();
  }

  /** @param {boolean} pending whether settings changes are waiting for the server */
  setSettingsPending(pending) {
    this.#settingsPending = pending;
    this.#render();
  }

  /**
   * Put the button directly before `anchor`, unless it is there already. Any other element
   * carrying the button's id (left by an earlier load of the module) is removed.
   * @param {Element} anchor
   */
  placeBefore(anchor) {
    this.#ensureElements();
    for (const stray of document.querySelectorAll(`#${BUTTON_ID}`)) {
      if (stray !== this.#button) (stray.closest(".gold-box-controls") ?? stray).remove();
    }
    if (this.#wrapper.nextElementSibling !== anchor) anchor.before(this.#wrapper);
  }

  #ensureElements() {
    if (this.#button) return;
    const wrapper = document.createElement("div");
    wrapper.classList.add("gold-box-controls");
    const button = document.createElement("button");
    button.type = "button";
    button.id = BUTTON_ID;
    button.classList.add("gold-box-ai-turn-btn");
    const icon = document.createElement("i");
    icon.classList.add("fa-solid", "fa-robot");
    icon.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.classList.add("gold-box-label");
    button.append(icon, label);
    button.addEventListener("click", (event) => {
      event.preventDefault();
      this.#onClick();
    });
    wrapper.append(button);
    this.#wrapper = wrapper;
    this.#button = button;
    this.#label = label;
    this.#render();
  }

  #render() {
    const button = this.#button;
    if (!button) return;
    const state = this.visualState;
    const suffix = VISUAL_STATES[state];
    for (const cls of [...button.classList]) {
      if (cls.startsWith(STATE_CLASS_PREFIX)) button.classList.remove(cls);
    }
    button.classList.add(`${STATE_CLASS_PREFIX}${state}`);
    button.dataset.state = state;
    this.#label.textContent = game.i18n.localize(`GOLD_BOX.Button.Label.${suffix}`);
    const titleKey = state === "disconnected" ? (TITLE_OVERRIDES[this.#connection] ?? suffix) : suffix;
    const title = game.i18n.localize(`GOLD_BOX.Button.Title.${titleKey}`);
    button.title = this.#settingsPending
      ? game.i18n.format("GOLD_BOX.Button.TitleWithPending", {
        title,
        pending: game.i18n.localize("GOLD_BOX.Indicator.SettingsPending"),
      })
      : title;
    button.disabled = state !== "ready";
    button.setAttribute("aria-busy", String(this.#thinking));
    this.#renderIndicator(button);
  }

  /** The settings-pending class and exactly one indicator while pending; none otherwise. */
  #renderIndicator(button) {
    button.classList.toggle(PENDING_CLASS, this.#settingsPending);
    const dots = [...button.querySelectorAll(`span.${INDICATOR_CLASS}`)];
    dots.slice(this.#settingsPending ? 1 : 0).forEach((dot) => dot.remove());
    if (!this.#settingsPending) return;
    const dot = dots[0] ?? document.createElement("span");
    if (!dot.isConnected) {
      dot.className = INDICATOR_CLASS;
      dot.textContent = "•";
      button.append(dot);
    }
    const label = game.i18n.localize("GOLD_BOX.Indicator.SettingsPending");
    dot.setAttribute("title", label);
    dot.setAttribute("aria-label", label);
    dot.setAttribute("role", "status");
  }
}
