// Interprets the events the wasm core emits through `host.emit` for the Foundry UI: the
// button's state, the thinking state of an AI turn, AI chat messages and notifications.
// The core decides what happens (it keeps the turn bookkeeping and emits one `turn` state);
// this file only shows it.
import { NarrationDrafts } from "./drafts.js";
import { recordTurnUsage } from "./usage-footer.js";

export class CoreEventHandler {
  #button;
  #authFailureShown = false;
  /** Per turn, the promise of its last message being posted (so usage lands after it). */
  #posting = new Map();
  #drafts = new NarrationDrafts();

  /** @param {import("./button.js").AiTurnButton} button */
  constructor(button) {
    this.#button = button;
  }

  /** Where streamed narration is shown (review.js hands it regenerations). */
  get drafts() {
    return this.#drafts;
  }

  /** Dispatch one event object from the core. */
  handle(event) {
    switch (event?.type) {
      case "state": return this.#onState(event);
      case "chat_response": return this.#onChatResponse(event);
      case "narration_draft": return this.#drafts.draft(event);
      case "narration_dropped": return this.#drafts.drop(event);
      case "turn_complete": return this.#onTurnComplete(event);
      case "error": return this.#onError(event);
      case "settings_pending": return this.#button.setSettingsPending(Boolean(event.pending));
      case "turn": return this.#button.setTurn(event);
      case "usage": return this.#onUsage(event);
      case "turn_started": return undefined; // the `turn` state already shows it
      default: console.debug("Gold Box | ignored core event", event);
    }
  }

  /** `core.takeAiTurn` rejected: say why (the core's `turn` state clears the button). */
  turnRejected(error) {
    const message = error instanceof Error ? error.message : String(error ?? "");
    ui.notifications?.warn(game.i18n.format("GOLD_BOX.Errors.TurnRejected", { message }));
  }

  #onState({ state, detail }) {
    this.#button.setConnection(state);
    if (state === "auth_failed") {
      if (!this.#authFailureShown) ui.notifications?.error(game.i18n.localize("GOLD_BOX.Errors.AuthFailed"));
      this.#authFailureShown = true;
      if (detail) console.warn("Gold Box | authentication failed:", detail);
    } else if (state === "connected") {
      this.#authFailureShown = false;
    }
  }

  #onChatResponse(event) {
    const posted = this.#drafts.finish(event).catch((err) => {
      console.error("Gold Box | could not post the AI's message", err);
      ui.notifications?.error(game.i18n.localize("GOLD_BOX.Errors.PostMessage"));
    });
    const id = String(event?.request_id ?? "");
    this.#posting.set(id, Promise.all([this.#posting.get(id), posted]));
  }

  #onUsage({ request_id: requestId, usage, session_usage: sessionUsage }) {
    this.#button.setSessionUsage(sessionUsage);
    const id = String(requestId ?? "");
    const posted = this.#posting.get(id) ?? Promise.resolve();
    this.#posting.delete(id);
    posted
      .then(() => recordTurnUsage(id, usage))
      .catch((err) => console.warn("Gold Box | could not note the turn's usage", err));
  }

  #onTurnComplete(event) {
    this.#drafts.turnComplete(event);
    const { status, error } = event;
    if (status === "failed") {
      ui.notifications?.error(game.i18n.format("GOLD_BOX.Errors.TurnFailed", { error: String(error ?? "") }));
    } else if (status === "timeout") {
      ui.notifications?.warn(game.i18n.localize("GOLD_BOX.Errors.TurnTimeout"));
    } else if (status === "cancelled") {
      ui.notifications?.info(game.i18n.localize("GOLD_BOX.Errors.TurnCancelled"));
    }
  }

  #onError({ code, message }) {
    const key = code === "AI_BUSY" ? "GOLD_BOX.Errors.AiBusy" : "GOLD_BOX.Errors.Server";
    const text = game.i18n.format(key, { code: String(code ?? ""), message: String(message ?? "") });
    if (code === "AI_BUSY") ui.notifications?.warn(text);
    else ui.notifications?.error(text);
  }
}
