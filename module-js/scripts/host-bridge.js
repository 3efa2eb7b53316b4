// The host object handed to `new GoldBoxCore(host)`: the only way the wasm core reaches
// Foundry. `roll` uses Foundry's own dice and posts them to chat; `emit` forwards core events
// to the glue; `localize` reads lang/en.json. Nothing here throws or rejects back into the
// core: a failure is logged, and a bad roll becomes an outcome with an `error`.
import { escapeHtml } from "./ai-messages.js";
import { DICE_SO_NICE_TIMEOUT_MS, MODULE_ID, ROLL_SPEAKER_ALIAS } from "./constants.js";
import { audienceOf, visibilityData, visibilityOptions } from "./visibility.js";

/**
 * @param {{onEvent: (event: object) => void}} options
 * @returns {{emit: Function, roll: Function, localize: Function}}
 */
export function createHostBridge({ onEvent }) {
  return {
    emit(event) {
      try {
        onEvent(event);
      } catch (err) {
        console.error("Gold Box | failed to handle a core event", event, err);
      }
    },
    roll: rollForCore,
    localize(key) {
      try {
        return game.i18n.localize(String(key));
      } catch (err) {
        return String(key);
      }
    },
  };
}

/**
 * Roll `formula` with Foundry's dice, post it to chat and describe it as a RollOutcome:
 * `{formula, flavor?, total, dice: [{faces, results: [{result, active}]}], error?}`.
 * The chat message carries the server's roll request id in the module's flags, so each
 * request's roll can be found (and counted) in chat.
 *
 * The AI chose the formula and the flavor, so in Foundry:
 * - the roll is evaluated with `allowInteractive: false`: a GM who fulfils dice by hand (or
 *   with physical dice) would otherwise get Foundry's dice prompt, and the server's deadline
 *   for the result would pass while it waits; the AI's dice are always Foundry's digital dice;
 * - the flavor is HTML-escaped, since Foundry renders a message's flavor as HTML (the outcome
 *   sent back to the server keeps the text as the AI wrote it);
 * - the speaker is the AI alone (an alias, no actor, no token), never the token the GM has
 *   selected or the GM's character, which `ChatMessage.getSpeaker` would fill in;
 * - the message has the visibility the core names (`audience`: that of the turn that asked
 *   for the dice, fixed when it was asked for), not the GM's current roll mode.
 * @param {string} formula
 * @param {string} [flavor]
 * @param {string} [requestId] the `execute_roll` this roll answers
 * @param {"public"|"gm"} [audience] who sees the dice (anything else: the GMs)
 * @returns {Promise<object>} never rejects
 */
export async function rollForCore(formula, flavor, requestId, audience) {
  const base = { formula: String(formula ?? "") };
  if (flavor !== undefined && flavor !== null && flavor !== "") base.flavor = String(flavor);

  let roll;
  try {
    const RollClass = globalThis.foundry?.dice?.Roll ?? globalThis.Roll;
    roll = new RollClass(base.formula);
    await roll.evaluate({ allowInteractive: false });
  } catch (err) {
    return { ...base, total: null, dice: [], error: errorMessage(err) };
  }

  const total = Number(roll.total);
  const outcome = { ...base, total: Number.isFinite(total) ? total : null, dice: diceOf(roll) };
  if (outcome.total === null) outcome.error = `roll total is not a number: ${roll.total}`;

  try {
    const speaker = { scene: null, actor: null, token: null, alias: ROLL_SPEAKER_ALIAS };
    const flags = requestId ? { [MODULE_ID]: { rollRequestId: String(requestId) } } : undefined;
    const flavor = base.flavor === undefined ? undefined : escapeHtml(base.flavor);
    const mode = audienceOf(audience);
    const message = await roll.toMessage(
      { flavor, speaker, flags, ...visibilityData(mode) },
      visibilityOptions(mode),
    );
    if (message?.id) await waitForDiceAnimation(message.id);
  } catch (err) {
    // The dice were rolled: their outcome stands even if chat could not show it.
    console.warn("Gold Box | the roll could not be posted to chat", err);
  }
  return outcome;
}

function diceOf(roll) {
  return (roll.dice ?? []).map((die) => ({
    faces: Number(die.faces),
    results: (die.results ?? []).map((r) => ({ result: Number(r.result), active: r.active !== false })),
  }));
}

/** Wait for Dice So Nice's 3D animation of `messageId`, at most DICE_SO_NICE_TIMEOUT_MS. */
async function waitForDiceAnimation(messageId) {
  const dice3d = game.dice3d;
  if (!game.modules.get("dice-so-nice")?.active || typeof dice3d?.waitFor3DAnimationByMessageID !== "function") {
    return;
  }
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, DICE_SO_NICE_TIMEOUT_MS); });
  try {
    await Promise.race([Promise.resolve(dice3d.waitFor3DAnimationByMessageID(messageId)), timeout]);
  } catch (err) {
    console.warn("Gold Box | Dice So Nice animation failed", err);
  } finally {
    clearTimeout(timer);
  }
}

function errorMessage(err) {
  if (err instanceof Error) return err.message || err.name;
  return String(err ?? "roll failed");
}
