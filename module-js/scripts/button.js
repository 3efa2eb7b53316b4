// The Take AI Turn button: a single element whose label, title, state class and
// settings-pending indicator follow the core's events (`state`, `turn`, `settings_pending`).
// While a turn runs it is the Stop button (its click stops the turn; `aria-pressed` is true
// once a stop is asked, until the turn's end); after a failed turn it offers Retry; its
// title carries the session's token total (and estimated cost) once the server reported it.
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
  stopping: "Stopping",
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
  #stopping = false;
  #retry = false;
  /** @type {{prompt_tokens: number, completion_tokens: number, estimated_cost?: number}|null} */
  #sessionUsage = null;
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

  /** Whether a click now stops the running turn rather than taking one. */
  get stops() {
    return this.#thinking;
  }

  /** @returns {string} one of the keys of VISUAL_STATES */
  get visualState() {
    if (this.#thinking) return this.#stopping ? "stopping" : "thinking";
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

  /**
   * The core's `turn` event.
   * @param {{busy: boolean, stopping?: boolean, retry?: boolean, session_usage?: object}} turn
   */
  setTurn({ busy, stopping, retry, session_usage: sessionUsage }) {
    this.#thinking = Boolean(busy);
    this.#stopping = Boolean(stopping);
    this.#retry = Boolean(retry);
    if (sessionUsage) this.#sessionUsage = sessionUsage;
    this.#render();
  }

  /** @param {object} usage the session's usage from the core's `usage` event */
  setSessionUsage(usage) {
    if (usage) this.#sessionUsage = usage;
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
    const retry = state === "ready" && this.#retry;
    button.dataset.retry = String(retry);
    const labelKey = retry ? "Retry" : suffix;
    const label = game.i18n.localize(`GOLD_BOX.Button.Label.${labelKey}`);
    this.#label.textContent = label;
    const titleKey = state === "disconnected" ? (TITLE_OVERRIDES[this.#connection] ?? labelKey) : labelKey;
    let title = game.i18n.localize(`GOLD_BOX.Button.Title.${titleKey}`);
    const usage = this.#usageText();
    if (usage) title = `${title} ${usage}`;
    button.title = this.#settingsPending
      ? game.i18n.format("GOLD_BOX.Button.TitleWithPending", {
        title,
        pending: game.i18n.localize("GOLD_BOX.Indicator.SettingsPending"),
      })
      : title;
    // Ready takes a turn; a running turn can be stopped (again: a second stop is harmless).
    button.disabled = state !== "ready" && state !== "thinking" && state !== "stopping";
    button.setAttribute("aria-busy", String(this.#thinking));
    button.setAttribute("aria-label", label);
    if (this.#thinking) button.setAttribute("aria-pressed", String(this.#stopping));
    else button.removeAttribute("aria-pressed");
    button.classList.toggle("gold-box-retry", retry);
    this.#renderIndicator(button);
  }

  /** The session's tokens (and estimated cost) for the title, once known. */
  #usageText() {
    const usage = this.#sessionUsage;
    if (!usage) return "";
    const tokens = Number(usage.prompt_tokens ?? 0) + Number(usage.completion_tokens ?? 0);
    const data = {
      tokens: tokens.toLocaleString(),
      prompt: Number(usage.prompt_tokens ?? 0).toLocaleString(),
      completion: Number(usage.completion_tokens ?? 0).toLocaleString(),
      cost: formatCost(usage.estimated_cost),
    };
    const key = usage.estimated_cost == null ? "GOLD_BOX.Usage.Session" : "GOLD_BOX.Usage.SessionWithCost";
    return game.i18n.format(key, data);
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

/** An estimated cost with as many decimals as a small amount needs (at most 6). */
export function formatCost(cost) {
  const value = Number(cost ?? 0);
  if (!Number.isFinite(value)) return "";
  return value >= 1 ? value.toFixed(2) : value.toPrecision(2).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}
