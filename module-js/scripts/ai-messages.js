// Posts the AI's `chat_response` messages to Foundry chat. AI output is untrusted text: it is
// HTML-escaped before it becomes ChatMessage content, so it can never inject markup or script;
// blank lines become paragraphs and single newlines become <br>. Each message has the
// visibility of its turn (the event's `audience`, the core's decision), set explicitly.
import { MODULE_ID } from "./constants.js";
import { audienceFlags, audienceOf, visibilityData, visibilityOptions } from "./visibility.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };

/** @returns {string} `text` with every HTML-significant character escaped */
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

/**
 * Render untrusted text as safe HTML paragraphs.
 * @param {unknown} text
 * @returns {string}
 */
export function textToHtml(text) {
  const normalized = String(text ?? "").replace(/\r\n?/g, "\n").trim();
  if (!normalized) return "";
  return normalized
    .split(/\n{2,}/)
    .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, "<br>")}</p>`)
    .join("");
}

/**
 * The chat content and the kind of one AI message (`{speaker, content, kind}`).
 * @returns {{content: string, kind: string}}
 */
export function aiMessageContent(message) {
  const kind = String(message?.kind ?? "narration").replace(/[^a-z_]/g, "") || "narration";
  return {
    content: `<div class="gold-box-message gold-box-kind-${kind}">${textToHtml(message?.content)}</div>`,
    kind,
  };
}

/**
 * Create the chat message for one `chat_response` event.
 * @param {{request_id: string, message: {speaker: string, content: string, kind: string}, audience: string, private_context: boolean}} event
 * @returns {Promise<object|undefined>} the ChatMessage
 */
export async function postAiMessage(event) {
  const message = event?.message ?? {};
  const { content, kind } = aiMessageContent(message);
  const speaker = String(message.speaker ?? "").trim() || "Gold Box";
  const ChatMessageClass = globalThis.CONFIG?.ChatMessage?.documentClass ?? globalThis.ChatMessage;
  const mode = audienceOf(event?.audience);
  return ChatMessageClass.create({
    content,
    speaker: { alias: speaker },
    flags: { [MODULE_ID]: { requestId: String(event?.request_id ?? ""), kind, ...audienceFlags(event) } },
    ...visibilityData(mode),
  }, visibilityOptions(mode));
}
