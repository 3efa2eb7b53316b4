// Streaming narration in Foundry chat: the core's `narration_draft` events (the narration as
// written so far) shown in ONE chat message, created on the first words and updated in place
// at most every DRAFT_UPDATE_MS (each update is a database write broadcast to every client).
// The `chat_response` that ends the stream writes the whole, final text into the same message;
// a `narration_dropped` preview (text the AI wrote beside a tool call) is deleted.
//
// While it streams, the message's flags say `streaming: true` and carry no `kind`: it becomes
// an AI message of its kind only when the final text is in. Writes of one preview run one
// after the other (a promise chain), so the final text is always the last one written.
//
// Each message has the visibility the core names in the event (`audience`, the turn's, fixed
// when it was asked for), kept in its flags. Under the GM's review (review.js) the preview and
// the final narration are whispered to the game masters only, and the final one is flagged for
// review. A regeneration's narration (its own request id, `adopt`ed) is written into the draft
// it replaces.
import { aiMessageContent, postAiMessage } from "./ai-messages.js";
import { DRAFT_UPDATE_MS, MODULE_ID } from "./constants.js";
import { gmWhisper, releaseMode, reviewFlags, scheduleAutoPublish, underReview } from "./review.js";
import { audienceFlags, audienceOf, visibilityData, visibilityOptions } from "./visibility.js";

export class NarrationDrafts {
  /** @type {Map<string, {stream: number, text: string, written: string, lastWrite: number, timer: number|null, chain: Promise<object|undefined>}>} */
  #drafts = new Map();
  /** Regenerations: their request id → the draft message their narration replaces. */
  #adopted = new Map();
  /** Turns whose previews this page handles (until the turn completes). */
  #seen = new Set();

  /** The narration of regeneration `requestId` goes into `message`. */
  adopt(requestId, message) {
    this.#adopted.set(String(requestId), message);
  }

  /** A `narration_draft` event: show `text`, now or at the next allowed write. */
  draft(event) {
    const { request_id: requestId, stream, text } = event ?? {};
    const key = String(requestId ?? "");
    const seen = this.#seen.has(key);
    this.#seen.add(key);
    let draft = this.#drafts.get(key);
    if (draft && draft.stream !== stream) {
      this.#remove(key, draft);
      draft = undefined;
    }
    if (!draft) {
      const first = String(text ?? "");
      draft = { stream, text: first, written: first, lastWrite: Date.now(), timer: null, chain: Promise.resolve(undefined) };
      this.#drafts.set(key, draft);
      // A regeneration writes into its draft; after a reload mid-stream, the preview the
      // earlier page load made goes on growing.
      const existing = this.#adopted.get(key) ?? (seen ? undefined : streamingMessage(key, stream));
      draft.chain = existing ? this.#write(existing, first) : this.#create(key, stream, first, event);
      return;
    }
    draft.text = String(text ?? "");
    this.#schedule(draft);
  }

  /**
   * A `chat_response` event: the final text goes into the preview it ends (or the draft a
   * regeneration replaces), or into a new message when there is none.
   * @returns {Promise<object|undefined>} the ChatMessage
   */
  async finish(event) {
    const key = String(event?.request_id ?? "");
    const seen = this.#seen.has(key);
    this.#seen.add(key);
    const draft = this.#drafts.get(key);
    const adopted = this.#adopted.get(key);
    this.#adopted.delete(key);
    if (draft && event?.stream !== undefined && event.stream === draft.stream) {
      this.#drafts.delete(key);
      if (draft.timer !== null) clearTimeout(draft.timer);
      draft.chain = draft.chain.then((message) => (message ? this.#finalize(message, event) : this.#post(event)));
      return draft.chain;
    }
    if (adopted) return this.#finalize(adopted, event);
    // A preview this page did not make (the page reloaded mid-stream, and the server
    // replays the chat_response): the final text goes into it, not beside it.
    const orphan = seen || event?.stream === undefined ? undefined : streamingMessage(key, event.stream);
    if (orphan) return this.#finalize(orphan, event);
    return this.#post(event);
  }

  /** A `narration_dropped` event: delete the preview. */
  drop({ request_id: requestId, stream }) {
    const key = String(requestId ?? "");
    const draft = this.#drafts.get(key);
    if (!draft || draft.stream !== stream) return;
    if (this.#adopted.has(key)) {
      // A regeneration's draft is the GM's message: it stays, with its old text.
      this.#drafts.delete(key);
      if (draft.timer !== null) clearTimeout(draft.timer);
      return;
    }
    this.#remove(key, draft);
  }

  /**
   * A `turn_complete` event: a regeneration that wrote nothing gives its draft back; a
   * preview left by an earlier page load that no chat_response ended is deleted.
   */
  turnComplete({ request_id: requestId }) {
    const key = String(requestId ?? "");
    if (!this.#seen.delete(key)) streamingMessage(key)?.delete().catch(report);
    const adopted = this.#adopted.get(key);
    if (!adopted) return;
    this.#adopted.delete(key);
    const text = adopted.getFlag(MODULE_ID, "text");
    adopted.update({
      content: aiMessageContent({ content: text, kind: "narration" }).content,
      [`flags.${MODULE_ID}.review`]: "pending",
    }).catch(report);
  }

  #schedule(draft) {
    if (draft.timer !== null) return;
    const wait = Math.max(0, draft.lastWrite + DRAFT_UPDATE_MS - Date.now());
    draft.timer = setTimeout(() => {
      draft.timer = null;
      if (draft.text === draft.written) return;
      const text = draft.text;
      draft.written = text;
      draft.lastWrite = Date.now();
      draft.chain = draft.chain.then((message) => (message ? this.#write(message, text) : message));
      draft.chain.catch(report);
    }, wait);
  }

  /** One write of the preview's text. */
  async #write(message, text) {
    await message.update({ content: aiMessageContent({ content: text, kind: "narration" }).content });
    return message;
  }

  #remove(key, draft) {
    this.#drafts.delete(key);
    if (draft.timer !== null) clearTimeout(draft.timer);
    draft.chain = draft.chain.then(async (message) => {
      await message?.delete();
      return undefined;
    });
    draft.chain.catch(report);
  }

  /** The final text into an existing message: published, or a draft under review. */
  async #finalize(message, event) {
    const { content, kind } = aiMessageContent(event.message);
    const turn = message.getFlag(MODULE_ID, "turn") ?? event.request_id;
    const changes = {
      content,
      [`flags.${MODULE_ID}.kind`]: kind,
      [`flags.${MODULE_ID}.streaming`]: false,
    };
    for (const [name, value] of Object.entries(audienceFlags(event))) changes[`flags.${MODULE_ID}.${name}`] = value;
    if (underReview(kind) || message.getFlag(MODULE_ID, "review") === "regenerating") {
      for (const [name, value] of Object.entries(reviewFlags(event.message, turn))) {
        changes[`flags.${MODULE_ID}.${name}`] = value;
      }
      changes.speaker = { ...message.speaker, alias: speakerOf(event.message) };
    } else {
      changes.speaker = { ...message.speaker, alias: speakerOf(event.message) };
    }
    await message.update(changes);
    scheduleAutoPublish(message);
    return message;
  }

  /** A message of its own for a `chat_response` without a preview. */
  async #post(event) {
    const kind = aiMessageContent(event?.message).kind;
    if (!underReview(kind)) return postAiMessage(event);
    const ChatMessageClass = globalThis.CONFIG?.ChatMessage?.documentClass ?? globalThis.ChatMessage;
    const turn = String(event?.request_id ?? "");
    const message = await ChatMessageClass.create({
      content: aiMessageContent(event.message).content,
      speaker: { alias: speakerOf(event.message) },
      flags: { [MODULE_ID]: { requestId: turn, kind, ...reviewFlags(event.message, turn), ...audienceFlags(event) } },
      ...gmWhisper(),
    }, visibilityOptions("gm"));
    scheduleAutoPublish(message);
    return message;
  }

  async #create(requestId, stream, text, event) {
    const ChatMessageClass = globalThis.CONFIG?.ChatMessage?.documentClass ?? globalThis.ChatMessage;
    const review = releaseMode() !== "publish";
    const mode = review ? "gm" : audienceOf(event?.audience);
    try {
      return await ChatMessageClass.create({
        content: aiMessageContent({ content: text, kind: "narration" }).content,
        speaker: { alias: game.i18n.localize("GOLD_BOX.Draft.Speaker") },
        flags: { [MODULE_ID]: { requestId, turn: requestId, stream, streaming: true, ...audienceFlags(event) } },
        ...(review ? gmWhisper() : visibilityData(mode)),
      }, visibilityOptions(mode));
    } catch (err) {
      report(err);
      return undefined;
    }
  }
}

/** A preview of turn `requestId` (of `stream`, when given) still streaming in chat. */
function streamingMessage(requestId, stream) {
  if (!requestId) return undefined;
  return (game.messages?.contents ?? []).find((m) => m.getFlag(MODULE_ID, "streaming") === true
    && m.getFlag(MODULE_ID, "requestId") === requestId
    && (stream === undefined || m.getFlag(MODULE_ID, "stream") === stream));
}

function speakerOf(message) {
  return String(message?.speaker ?? "").trim() || "Gold Box";
}

function report(err) {
  console.error("Gold Box | could not show the AI's narration as it streams", err);
}
