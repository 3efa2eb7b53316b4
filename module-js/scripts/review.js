// The GM's review of the AI's narration (the `narrationRelease` world setting): under review a
// narration is a draft whispered to the game masters only, with Publish, Edit, Regenerate (with
// an optional note to the AI) and Discard. The buttons are built in the render hook from the
// message's flags (never stored in its HTML), so they work for any GM's client and after a
// reload; a player's client never builds them (and never sees the whispered draft).
//
// Flags (scope `gold-box`) of a narration under review: `review` ("pending" | "regenerating" |
// "published"), `turn` (the chat_request it narrates, which the server keeps for a
// regeneration), `text` (the plain draft text, for the editor), `speaker` (the AI's speaker,
// used on publishing), `autoPublishAt` (epoch ms, with auto-publish), and the turn's visibility
// the core fixed when the turn was asked for: `audience` ("public" | "gm") and `privateContext`
// (the AI read messages not every player can see). Publish follows `audience`, never the
// setting as it is now: a draft of a turn for the GMs only (always so when its context was
// private) is published to the GMs only, with a notice saying why when the setting now says
// everyone. A draft without the flag (made by an older version) counts as the GMs'.
import { aiMessageContent } from "./ai-messages.js";
import { MODULE_ID } from "./constants.js";
import { getSetting } from "./settings.js";
import { audienceOf, visibilityData } from "./visibility.js";

/** @returns {"publish"|"review"|"review_auto"} how the AI's narration is released */
export function releaseMode() {
  const mode = getSetting("narrationRelease");
  return ["publish", "review", "review_auto"].includes(mode) ? mode : "publish";
}

/** Whether a new AI message of `kind` is held for the GM's review. */
export function underReview(kind) {
  return kind === "narration" && releaseMode() !== "publish";
}

/** The whisper list of a draft: the game masters. */
export function gmWhisper() {
  return { whisper: game.users.filter((u) => u.isGM).map((u) => u.id), blind: false };
}

/**
 * The flags of a narration put under review with this final text.
 * @param {{speaker: string, content: string}} message the AI's message
 * @param {string} turn the chat_request it narrates
 */
export function reviewFlags(message, turn) {
  const flags = {
    review: "pending",
    turn: String(turn ?? ""),
    text: String(message?.content ?? ""),
    speaker: String(message?.speaker ?? "").trim() || "Gold Box",
    autoPublishAt: null,
  };
  if (releaseMode() === "review_auto") {
    const seconds = Math.max(1, Number(getSetting("narrationAutoPublishSeconds")) || 60);
    flags.autoPublishAt = Date.now() + seconds * 1000;
  }
  return flags;
}

/**
 * Publish a draft (as edited, when `text` is given) as the AI's speaker, for the audience its
 * turn had when it was asked for.
 */
export async function publish(message, text) {
  if (message?.getFlag(MODULE_ID, "review") !== "pending") return message;
  const speaker = message.getFlag(MODULE_ID, "speaker") || "Gold Box";
  const audience = audienceOf(message.getFlag(MODULE_ID, "audience"));
  if (audience === "gm" && getSetting("aiMessageMode") === "public") {
    const key = message.getFlag(MODULE_ID, "privateContext") === false ? "PublishedToGms" : "PublishedToGmsPrivate";
    ui.notifications?.info(game.i18n.localize(`GOLD_BOX.Review.${key}`));
  }
  const changes = {
    ...visibilityData(audience),
    speaker: { ...message.speaker, alias: speaker },
    [`flags.${MODULE_ID}.review`]: "published",
  };
  if (text !== undefined) {
    changes.content = aiMessageContent({ content: text, kind: "narration" }).content;
    changes[`flags.${MODULE_ID}.text`] = String(text);
    changes[`flags.${MODULE_ID}.edited`] = true;
  }
  return message.update(changes);
}

const timers = new Map();

/** Publish `message` at its `autoPublishAt` if it is still pending then. */
export function scheduleAutoPublish(message) {
  const at = message?.getFlag(MODULE_ID, "autoPublishAt");
  if (!Number.isFinite(at) || message.getFlag(MODULE_ID, "review") !== "pending") return;
  clearTimeout(timers.get(message.id));
  timers.set(message.id, setTimeout(() => {
    timers.delete(message.id);
    const current = game.messages.get(message.id);
    if (current?.getFlag(MODULE_ID, "autoPublishAt") !== at) return;
    publish(current).catch(report);
  }, Math.max(0, at - Date.now())));
}

/** After a (re)load: the pending drafts with auto-publish get their timers again. */
export function resumeAutoPublish() {
  for (const message of game.messages?.contents ?? game.messages ?? []) scheduleAutoPublish(message);
}

/**
 * Adds the review buttons to a draft's card, for game masters only.
 * @param {() => object|undefined} api the module's api (`core` for regenerate and discard)
 * @param {{adopt: Function}} drafts where a regeneration's narration is written
 */
export function registerReviewHooks(api, drafts) {
  Hooks.on("renderChatMessageHTML", (message, html) => {
    const state = message?.getFlag?.(MODULE_ID, "review");
    if (!game.user?.isGM || (state !== "pending" && state !== "regenerating")) return;
    const element = html instanceof HTMLElement ? html : html?.[0];
    element?.querySelector(".message-content")?.append(reviewPanel(message, state, api, drafts));
  });
}

function reviewPanel(message, state, api, drafts) {
  const t = (key) => game.i18n.localize(`GOLD_BOX.Review.${key}`);
  const panel = document.createElement("div");
  panel.classList.add("gold-box-review");
  const label = document.createElement("p");
  label.classList.add("gold-box-review-label");
  label.textContent = state === "regenerating" ? t("Regenerating") : t("Label");
  panel.append(label);
  const at = message.getFlag(MODULE_ID, "autoPublishAt");
  if (state === "pending" && Number.isFinite(at)) {
    const auto = document.createElement("p");
    auto.classList.add("gold-box-review-auto");
    auto.textContent = game.i18n.format("GOLD_BOX.Review.AutoPublish", { time: new Date(at).toLocaleTimeString() });
    panel.append(auto);
  }
  if (state !== "pending") return panel;

  const actions = document.createElement("div");
  actions.classList.add("gold-box-review-actions");
  const button = (action) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.goldBoxAction = action;
    b.textContent = t(action[0].toUpperCase() + action.slice(1));
    return b;
  };
  const note = document.createElement("input");
  note.type = "text";
  note.classList.add("gold-box-review-note");
  note.placeholder = t("NotePlaceholder");
  actions.append(button("publish"), button("edit"), button("regenerate"), button("discard"), note);
  panel.append(actions);

  const act = (work) => (event) => {
    event.preventDefault();
    event.stopPropagation();
    work().catch((err) => {
      report(err);
      ui.notifications?.error(game.i18n.format("GOLD_BOX.Review.Failed", { message: err?.message ?? String(err) }));
    });
  };
  actions.querySelector("[data-gold-box-action=publish]").addEventListener("click", act(() => publish(message)));
  actions.querySelector("[data-gold-box-action=discard]").addEventListener("click", act(async () => {
    const turn = message.getFlag(MODULE_ID, "turn");
    await message.delete();
    api()?.core?.discardNarration(String(turn ?? ""));
  }));
  actions.querySelector("[data-gold-box-action=regenerate]").addEventListener("click", act(async () => {
    const core = api()?.core;
    if (!core) throw new Error("the Gold Box core is not running");
    const turn = String(message.getFlag(MODULE_ID, "turn") ?? "");
    const text = note.value.trim();
    await message.update({ [`flags.${MODULE_ID}.review`]: "regenerating" });
    try {
      const requestId = await core.regenerateNarration(turn, text || undefined);
      drafts.adopt(requestId, message);
    } catch (err) {
      await message.update({ [`flags.${MODULE_ID}.review`]: "pending" });
      throw err;
    }
  }));
  actions.querySelector("[data-gold-box-action=edit]").addEventListener("click", act(async () => {
    panel.replaceChildren(editor(message, panel, () => actions, label));
  }));
  return panel;
}

/** An editor on the draft text, in the card: publishes what the GM wrote. */
function editor(message, panel, actions, label) {
  const t = (key) => game.i18n.localize(`GOLD_BOX.Review.${key}`);
  const form = document.createElement("div");
  form.classList.add("gold-box-review-editor");
  const area = document.createElement("textarea");
  area.rows = 6;
  area.value = String(message.getFlag(MODULE_ID, "text") ?? "");
  const save = document.createElement("button");
  save.type = "button";
  save.dataset.goldBoxAction = "save";
  save.textContent = t("Save");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.dataset.goldBoxAction = "cancel";
  cancel.textContent = t("Cancel");
  save.addEventListener("click", (event) => {
    event.preventDefault();
    publish(message, area.value).catch(report);
  });
  cancel.addEventListener("click", (event) => {
    event.preventDefault();
    panel.replaceChildren(label, actions());
  });
  form.append(area, save, cancel);
  return form;
}

function report(err) {
  console.error("Gold Box | the review action failed", err);
}
