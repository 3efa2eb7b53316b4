// `window.__shim`: what the Rust tests read and drive (no Foundry API of its own: it cites the
// pages of what it reads where that matters). Everything here goes through the same
// Foundry API a module uses (game.settings.set, ChatMessage.create, ui.chat.render, the
// sidebar's changeTab/toggleExpanded, the chat popout), so a test drives the page the way a
// user and Foundry would.
import { queuedDieResults, rollHold } from "./dice.js";
import { ROLL_MODE_OF } from "./chat-message.js";

const BUTTON_SELECTOR = "#gold-box-ai-turn-btn";

/** Whether an element takes space on screen and is not hidden by an ancestor. */
function isVisible(element) {
  if (!element || !element.isConnected) return false;
  if (element.closest("[hidden]")) return false;
  const style = getComputedStyle(element);
  if (style.visibility === "hidden" || style.display === "none") return false;
  return element.getClientRects().length > 0;
}

function messageJson(message) {
  return {
    id: message.id,
    content: message.content,
    flavor: message.flavor,
    speaker: { ...message.speaker },
    alias: message.alias,
    flags: JSON.parse(JSON.stringify(message.flags ?? {})),
    isRoll: message.isRoll,
    rolls: message.rolls.map((r) => ({ formula: r.formula, total: r.total, dice: r.dice.map((d) => ({ faces: d.faces, results: d.results.map((x) => ({ ...x })) })) })),
    timestamp: message.timestamp,
    style: message.style,
    type: message.type,
    whisper: [...message.whisper],
    blind: message.blind,
  };
}

export function installTestApi(shim) {
  // defineProperties, not Object.assign: the getters must stay live.
  Object.defineProperties(shim, Object.getOwnPropertyDescriptors({
    get errors() {
      return globalThis.__shimRecorder.errors;
    },
    get console() {
      return globalThis.__shimRecorder.console;
    },
    get notifications() {
      return globalThis.ui?.notifications?.history ?? [];
    },

    /** Change a setting through game.settings.set (fires its onChange). */
    setSetting(key, value, namespace = "gold-box") {
      return globalThis.game.settings.set(namespace, key, value);
    },
    getSetting(key, namespace = "gold-box") {
      return globalThis.game.settings.get(namespace, key);
    },

    /** The chat log as plain JSON. */
    messages() {
      return globalThis.game.messages.contents.map(messageJson);
    },

    /**
     * Post a chat line as a user would (an out-of-character message). `from: "player"` makes
     * the player its author (as when the player typed it); `whisperTo: "gm"` whispers it to
     * the GMs, as `/w gm ...` does.
     */
    async postChat(content, { alias, style, from, whisperTo } = {}) {
      const users = globalThis.game.users;
      const data = {
        content,
        style: style ?? globalThis.CONST.CHAT_MESSAGE_STYLES.OOC,
        speaker: alias ? { alias } : globalThis.ChatMessage.getSpeaker(),
      };
      if (from === "player") data.author = users.find((u) => !u.isGM).id;
      if (whisperTo === "gm") data.whisper = users.filter((u) => u.isGM).map((u) => u.id);
      const message = await globalThis.ChatMessage.create(data);
      return message?.id ?? null;
    },

    /** Roll `formula` into chat with Foundry's dice, in message mode `mode` (public|gm|blind|self). */
    async postRoll(formula, { flavor, alias, mode = "public" } = {}) {
      const roll = new globalThis.Roll(formula);
      await roll.evaluate({ allowInteractive: false });
      const options = globalThis.game.release.generation >= 14 ? { messageMode: mode } : { rollMode: ROLL_MODE_OF[mode] };
      const message = await roll.toMessage({ flavor, speaker: alias ? { alias } : undefined }, options);
      return message?.id ?? null;
    },

    /** The user's current visibility for what they post (v13 roll mode, v14 message mode). */
    currentMode() {
      const v14 = globalThis.game.release.generation >= 14;
      return globalThis.game.settings.get("core", v14 ? "messageMode" : "rollMode");
    },

    /** Formulas of the roll resolver dialogs open now (manual dice waiting for input). */
    openResolvers() {
      return [...document.querySelectorAll("dialog.roll-resolver")].map((d) => d.dataset.formula);
    },

    /** Type `faces` into the open roll resolvers, oldest first; returns how many were open. */
    resolveManualDice(faces) {
      const dialogs = [...document.querySelectorAll("dialog.roll-resolver")];
      for (const dialog of dialogs) dialog.resolveWith(faces.splice(0, dialog.querySelectorAll("input").length));
      return dialogs.length;
    },

    /** The rendered flavor of a message in the chat log: {html, text, images}. */
    renderedFlavor(messageId) {
      const flavor = document.querySelector(`#chat .chat-message[data-message-id="${messageId}"] .flavor-text`);
      if (!flavor) return null;
      return { html: flavor.innerHTML, text: flavor.textContent, elements: flavor.childElementCount };
    },

    /** Queue die faces for the next rolls, for deterministic tests. */
    queueDice(values) {
      queuedDieResults.push(...values);
    },

    /** Make the next `count` roll evaluations wait in `Roll#evaluate` until released. */
    holdNextRolls(count = 1) {
      rollHold.armed += count;
    },

    /** Formulas of the rolls waiting to be released. */
    heldRolls() {
      return rollHold.waiting.map((held) => held.formula);
    },

    /** Let every waiting roll go on; returns how many there were. Disarms the hold. */
    releaseRolls() {
      rollHold.armed = 0;
      const waiting = rollHold.waiting.splice(0);
      for (const held of waiting) held.resolve();
      return waiting.length;
    },

    /**
     * What a player's client would show of a message: Foundry's chat log renders only the
     * messages whose `visible` is true for the current user, each through `renderHTML()`,
     * which fires `renderChatMessageHTML`
     * (https://foundryvtt.com/api/v14/classes/foundry.documents.ChatMessage.html#visible,
     * https://foundryvtt.com/api/v14/functions/hookEvents.renderChatMessageHTML.html). The page
     * is the GM's; `game.user` is the player for the length of the render only.
     */
    async renderAsPlayer(messageId) {
      const game = globalThis.game;
      const message = game.messages.get(messageId);
      if (!message) return null;
      const gm = game.user;
      game.user = game.users.find((u) => !u.isGM);
      try {
        if (!message.visible) return { visible: false, text: "", flavor: "", buttons: 0 };
        const element = await message.renderHTML({ canDelete: false });
        return {
          visible: true,
          text: element.querySelector(".message-content")?.textContent ?? "",
          flavor: element.querySelector(".flavor-text")?.textContent ?? "",
          buttons: element.querySelectorAll("[data-gold-box-action]").length,
        };
      } finally {
        game.user = gm;
      }
    },

    /** Re-render the chat sidebar; resolves once Foundry's render hooks have run. */
    async rerenderChat() {
      await globalThis.ui.chat.render();
    },

    buttonCount() {
      return document.querySelectorAll(BUTTON_SELECTOR).length;
    },

    /** {count, visible, state, label, title, disabled, classes, parentId} of the button. */
    button() {
      const all = document.querySelectorAll(BUTTON_SELECTOR);
      const el = all[0] ?? null;
      if (!el) return { count: 0 };
      return {
        count: all.length,
        visible: isVisible(el),
        state: el.dataset.state ?? null,
        label: el.querySelector(".gold-box-label")?.textContent ?? el.textContent,
        title: el.title,
        disabled: el.disabled,
        classes: [...el.classList],
        nextSiblingId: el.parentElement?.nextElementSibling?.id ?? null,
        container: el.closest("#chat-notifications") ? "notifications"
          : el.closest(".chat-popout") ? "popout"
            : el.closest("#chat") ? "sidebar" : "elsewhere",
      };
    },

    isVisible(selector) {
      return isVisible(document.querySelector(selector));
    },

    /** Where the chat input is: "sidebar", "popout", "notifications" or "elsewhere". */
    inputLocation() {
      const input = document.getElementById("chat-message");
      if (!input) return null;
      if (input.closest("#chat-notifications")) return "notifications";
      if (input.closest(".chat-popout")) return "popout";
      if (input.closest("#chat")) return "sidebar";
      return "elsewhere";
    },

    // Sidebar and chat layout, as a user changes it.
    activateTab(tab) {
      globalThis.ui.sidebar.changeTab(tab, "primary");
    },
    collapseSidebar() {
      globalThis.ui.sidebar.toggleExpanded(false);
    },
    expandSidebar() {
      globalThis.ui.sidebar.toggleExpanded(true);
    },
    async popoutChat() {
      await globalThis.ui.chat.renderPopout();
    },
    async closeChatPopout() {
      await globalThis.ui.chat.popout?.close();
    },
  }));
}
