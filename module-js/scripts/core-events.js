// Interprets the events the wasm core emits through `host.emit` for the Foundry UI: the
// button's state, the thinking state of an AI turn, AI chat messages and notifications.
// The core decides what happens; this file only shows it.
import { postAiMessage } from "./ai-messages.js";

/** How many finished request ids to remember (a turn can finish before its id is known). */
const FINISHED_MEMORY = 32;

export class CoreEventHandler {
  #button;
  /** Request id of the turn this client is waiting on, once known. */
  #currentRequest = null;
  /** Request ids whose `turn_complete` has been seen, newest last. */
  #finished = [];
  #authFailureShown = false;

  /** @param {import("./button.js").AiTurnButton} button */
  constructor(button) {
    this.#button = button;
  }

  /** Dispatch one event object from the core. */
  handle(event) {
    switch (event?.type) {
      case "state": return this.#onState(event);
      case "turn_started": return this.#onTurnStarted(event);
      case "chat_response": return this.#onChatResponse(event);
      case "turn_complete": return this.#onTurnComplete(event);
      case "error": return this.#onError(event);
      case "settings_pending": return this.#button.setSettingsPending(Boolean(event.pending));
      default: console.debug("Gold Box | ignored core event", event);
    }
  }

  /** The user asked for a turn: show thinking until it is known how it went. */
  turnRequested() {
    this.#currentRequest = null;
    this.#button.setThinking(true);
  }

  /** `core.takeAiTurn` resolved with the turn's request id. */
  turnAccepted(requestId) {
    this.#currentRequest = requestId;
    if (this.#finished.includes(requestId)) this.#endTurn(requestId);
  }

  /** `core.takeAiTurn` rejected: no turn is running for this click. */
  turnRejected(error) {
    this.#currentRequest = null;
    this.#button.setThinking(false);
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

  #onTurnStarted({ request_id: requestId }) {
    this.#currentRequest = requestId ?? this.#currentRequest;
    this.#button.setThinking(true);
  }

  #onChatResponse(event) {
    postAiMessage(event).catch((err) => {
      console.error("Gold Box | could not post the AI's message", err);
      ui.notifications?.error(game.i18n.localize("GOLD_BOX.Errors.PostMessage"));
    });
  }

  #onTurnComplete({ request_id: requestId, status, error }) {
    this.#finished.push(requestId);
    if (this.#finished.length > FINISHED_MEMORY) this.#finished.shift();
    if (status === "failed") {
      ui.notifications?.error(game.i18n.format("GOLD_BOX.Errors.TurnFailed", { error: String(error ?? "") }));
    } else if (status === "timeout") {
      ui.notifications?.warn(game.i18n.localize("GOLD_BOX.Errors.TurnTimeout"));
    }
    if (this.#currentRequest === null || this.#currentRequest === requestId) this.#endTurn(requestId);
  }

  #onError({ code, message, request_id: requestId }) {
    const key = code === "AI_BUSY" ? "GOLD_BOX.Errors.AiBusy" : "GOLD_BOX.Errors.Server";
    const text = game.i18n.format(key, { code: String(code ?? ""), message: String(message ?? "") });
    if (code === "AI_BUSY") ui.notifications?.warn(text);
    else ui.notifications?.error(text);
    if (requestId && requestId === this.#currentRequest) this.#endTurn(requestId);
  }

  #endTurn(requestId) {
    if (this.#currentRequest === requestId) this.#currentRequest = null;
    this.#button.setThinking(false);
  }
}
