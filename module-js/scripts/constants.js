// Names shared by the module's glue files, kept in one place so that the package id,
// the flag scope and the button id cannot drift apart.

/** The Foundry package id (module.json `id`); also the settings namespace and flag scope. */
export const MODULE_ID = "gold-box";

/** The one Take AI Turn button; the wasm core finds it by this id for the pending indicator. */
export const BUTTON_ID = "gold-box-ai-turn-btn";

/** Speaker alias for the dice the AI asks the table to roll. */
export const ROLL_SPEAKER_ALIAS = "Gold Box";

/** Longest wait for a Dice So Nice animation before the roll result is reported anyway. */
export const DICE_SO_NICE_TIMEOUT_MS = 3000;

/**
 * Shortest time between two writes of a streaming narration's chat message: each write is a
 * database update broadcast to every client, so a preview is updated a few times a second,
 * however fast the server's `narration_delta` frames come.
 */
export const DRAFT_UPDATE_MS = 300;
