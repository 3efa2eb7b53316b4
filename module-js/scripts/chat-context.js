// Turns Foundry's chat log into the plain-text ChatEntry list a `chat_request` carries:
// `{speaker, content, kind: "chat"|"roll"|"ai"|"other", timestamp}`, each with a plain marker of
// who may see it, `visibility: "public" | "private"` (which the core reads and never sends). HTML
// (Foundry's rich-text content: v14's chat input is a ProseMirror editor that sends paragraphs)
// is reduced to text here so that no markup reaches the AI.
//
// Foundry glue only: which messages are private is read from Foundry's ChatMessage data
// (`whisper` recipients, `blind`). What the AI may read of them (only when its output goes to
// the GMs alone and the GM allowed it), how many entries a turn carries and their budget are
// the core's decisions (module-wasm/src/privacy.rs, context.rs); the core also counts what it
// left out in the browser's debug log.
import { MODULE_ID } from "./constants.js";

/**
 * @param {{contents?: object[]}} messages  `game.messages`
 * @param {number} count  how many of the latest messages to hand over (`core.contextScan()`)
 * @returns {{speaker: string, content: string, kind: string, timestamp: number, visibility: "public"|"private"}[]}
 */
export function collectChatEntries(messages, count) {
  const wanted = Math.max(1, Math.trunc(Number(count)) || 1);
  const visible = (messages?.contents ?? []).filter((m) => m && m.visible !== false);
  return visible.slice(-wanted).map((message) => ({
    ...toChatEntry(message),
    visibility: isSeenByAll(message) ? "public" : "private",
  }));
}

/** Whether every player can see `message`: no whisper recipients, not blind. */
export function isSeenByAll(message) {
  const whisper = message.whisper ?? [];
  return whisper.length === 0 && message.blind !== true;
}

/** @returns {{speaker: string, content: string, kind: string, timestamp: number}} */
export function toChatEntry(message) {
  const kind = kindOf(message);
  const content = kind === "roll" ? rollText(message) : htmlToText(message.content);
  const timestamp = Number.isFinite(message.timestamp) ? Math.trunc(message.timestamp) : Date.now();
  return { speaker: speakerOf(message), content, kind, timestamp };
}

function kindOf(message) {
  // Rolls first: the dice the AI asked for carry the module's flag too (their request id),
  // and they are still rolls, read as "flavor: formula = total".
  if (message.isRoll || message.rolls?.length) return "roll";
  if (message.flags?.[MODULE_ID]) return "ai";
  const styles = globalThis.CONST?.CHAT_MESSAGE_STYLES;
  if (styles && typeof message.style === "number") {
    return [styles.IC, styles.OOC, styles.EMOTE].includes(message.style) ? "chat" : "other";
  }
  return "chat";
}

function speakerOf(message) {
  const name = message.alias ?? message.speaker?.alias ?? message.author?.name;
  return typeof name === "string" && name ? name : "Unknown";
}

function rollText(message) {
  const flavor = htmlToText(message.flavor ?? "");
  const lines = (message.rolls ?? []).map((roll) => `${roll.formula} = ${roll.total}`);
  const text = lines.join("\n") || htmlToText(message.content);
  return flavor ? `${flavor}: ${text}` : text;
}

const BLOCK_ELEMENTS = "p, div, li, h1, h2, h3, h4, h5, h6, tr, blockquote, section, header, footer";

/**
 * Reduce chat HTML to text. DOMParser builds an inert document: no script runs and no image
 * loads while the text is read.
 * @param {unknown} html
 * @returns {string}
 */
export function htmlToText(html) {
  if (html === null || html === undefined) return "";
  const source = String(html);
  if (!/[<&]/.test(source)) return source.trim();
  const doc = new DOMParser().parseFromString(source, "text/html");
  doc.body.querySelectorAll("script, style, template").forEach((el) => el.remove());
  doc.body.querySelectorAll("br").forEach((br) => br.replaceWith("\n"));
  doc.body.querySelectorAll(BLOCK_ELEMENTS).forEach((el) => el.append("\n"));
  return doc.body.textContent
    .replace(/[ \t\f\v\u00a0]+/g, " ")
    .replace(/ *\n[\s]*/g, "\n")
    .trim();
}
