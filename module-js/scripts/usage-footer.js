// What each AI turn cost, under the AI's message: the core's `usage` event is kept in the
// turn's last message's flags (`flags.gold-box.usage`), and a small footer is drawn from it
// when the message renders, for game masters only (players never see the bill).
import { formatCost } from "./button.js";
import { MODULE_ID } from "./constants.js";

/** Draw the footer on AI messages that carry usage, for the GM. Registered once. */
export function registerUsageFooter() {
  Hooks.on("renderChatMessageHTML", (message, html) => {
    const usage = message?.flags?.[MODULE_ID]?.usage;
    if (!usage || game.user?.isGM !== true || !(html instanceof HTMLElement)) return;
    html.querySelector(".gold-box-usage")?.remove();
    const footer = document.createElement("footer");
    footer.classList.add("gold-box-usage");
    footer.textContent = usageText(usage);
    (html.querySelector(".message-content") ?? html).append(footer);
  });
}

/** `usage` in words: tokens, and the estimated cost when priced. */
export function usageText(usage) {
  const data = {
    prompt: Number(usage.prompt_tokens ?? 0).toLocaleString(),
    completion: Number(usage.completion_tokens ?? 0).toLocaleString(),
    cost: formatCost(usage.estimated_cost),
  };
  const key = usage.estimated_cost == null ? "GOLD_BOX.Usage.Turn" : "GOLD_BOX.Usage.TurnWithCost";
  return game.i18n.format(key, data);
}

/**
 * Keep a turn's usage on the last message it posted (none posted: nothing to mark).
 * @param {string} requestId
 * @param {object} usage
 */
export async function recordTurnUsage(requestId, usage) {
  if (!usage) return;
  const messages = [...(game.messages?.contents ?? game.messages ?? [])];
  const last = messages.reverse().find((m) => m?.flags?.[MODULE_ID]?.requestId === requestId);
  if (last) await last.setFlag(MODULE_ID, "usage", usage);
}
