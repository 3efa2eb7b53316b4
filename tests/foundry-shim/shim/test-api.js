// `window.__shim`: what the Rust tests read and drive. Everything here goes through the same
// Foundry API a module uses (game.settings.set, ChatMessage.create, ui.chat.render, the v13
// sidebar's changeTab/toggleExpanded, the chat popout), so a test drives the page the way a
// user and Foundry would.
import { queuedDieResults, rollHold } from "./dice.js";

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

    /** Post a chat line as a user would (an out-of-character message). */
    async postChat(content, { alias, style } = {}) {
      const message = await globalThis.ChatMessage.create({
        content,
        style: style ?? globalThis.CONST.CHAT_MESSAGE_STYLES.OOC,
        speaker: alias ? { alias } : globalThis.ChatMessage.getSpeaker(),
      });
      return message?.id ?? null;
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

    /** Re-render the chat sidebar; resolves once Foundry's render hooks have run. */
    async rerenderChat() {
      const chat = globalThis.ui.chat;
      if (globalThis.game.release.generation >= 13) await chat.render();
      else await chat.render(true)._renderPromise;
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
      const sidebar = globalThis.ui.sidebar;
      if (sidebar.changeTab) sidebar.changeTab(tab, "primary");
      else sidebar.activateTab(tab);
    },
    collapseSidebar() {
      const sidebar = globalThis.ui.sidebar;
      if (sidebar.toggleExpanded) sidebar.toggleExpanded(false);
      else sidebar.collapse();
    },
    expandSidebar() {
      const sidebar = globalThis.ui.sidebar;
      if (sidebar.toggleExpanded) sidebar.toggleExpanded(true);
      else sidebar.expand();
    },
    async popoutChat() {
      if (!globalThis.ui.chat.renderPopout) throw new Error("the chat popout is modelled for v13 only");
      await globalThis.ui.chat.renderPopout();
    },
    async closeChatPopout() {
      await globalThis.ui.chat.popout?.close();
    },
  }));
}
