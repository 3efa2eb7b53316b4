// Who sees what the AI posts: Foundry's side of it. The AI's rolls and messages always
// carry an explicit visibility, so the GM's own current roll mode (blind, self) never hides the
// AI's dice. Which visibility is the core's decision, fixed when the turn is asked for (from
// the `aiMessageMode` world setting then): each core event and roll names its `audience`, and
// a message keeps it in its flags (`audience`, `privateContext`) for the GM's Publish. What the
// AI may read follows from the same decision, also the core's (module-wasm/src/privacy.rs).
//
// Foundry names the same thing differently across versions: v14 has message modes
// (`CONFIG.ChatMessage.modes`, the `messageMode` option of `ChatMessage.create` and
// `Roll#toMessage`), v13 roll modes (the `rollMode` option, deprecated in v14). The presence of
// `CONFIG.ChatMessage.modes` decides which option is passed: the API, not a version number.

/** The v13 roll mode of each audience. */
const ROLL_MODES = { public: "publicroll", gm: "gmroll" };

/**
 * The audience the core named, as a mode: anything but "public" is the GMs (never public by
 * mistake).
 * @param {unknown} audience
 * @returns {"public"|"gm"}
 */
export function audienceOf(audience) {
  return audience === "public" ? "public" : "gm";
}

/**
 * The flags that keep a turn's visibility on its chat messages, from a core event.
 * @param {{audience?: string, private_context?: boolean}} event
 */
export function audienceFlags(event) {
  return { audience: audienceOf(event?.audience), privateContext: event?.private_context !== false };
}

/**
 * Creation options that apply `mode` (for `ChatMessage.create` and `Roll#toMessage`).
 * @param {"public"|"gm"} mode
 */
export function visibilityOptions(mode) {
  if (globalThis.CONFIG?.ChatMessage?.modes) return { messageMode: mode };
  return { rollMode: ROLL_MODES[mode] };
}

/**
 * The message data fields of `mode` (whisper recipients and blindness), set in the data too so
 * that a message is right even where the creation option is not applied.
 * @param {"public"|"gm"} mode
 */
export function visibilityData(mode) {
  if (mode === "gm") return { whisper: game.users.filter((u) => u.isGM).map((u) => u.id), blind: false };
  return { whisper: [], blind: false };
}
