// Registers the module's Foundry settings and reads them back. Every change is handed to the
// wasm core (which debounces and syncs it to the server); nothing here acts on a value itself.
import { MODULE_ID } from "./constants.js";

/** Default companion server address (the server's default port). */
export const DEFAULT_SERVER_URL = "http://127.0.0.1:8787";

/** The AI roles the server understands, mapped to their lang keys. */
const AI_ROLE_CHOICES = {
  dm: "GOLD_BOX.Settings.AiRole.Choices.dm",
  dm_assistant: "GOLD_BOX.Settings.AiRole.Choices.dm_assistant",
  player: "GOLD_BOX.Settings.AiRole.Choices.player",
};

/**
 * Foundry localizes `name`, `hint` and choice labels when it renders the settings form, and
 * language files are not loaded yet during `init`, so the keys themselves are registered.
 */
const SETTINGS = {
  serverUrl: {
    name: "GOLD_BOX.Settings.ServerUrl.Name",
    hint: "GOLD_BOX.Settings.ServerUrl.Hint",
    scope: "client",
    config: true,
    type: String,
    default: DEFAULT_SERVER_URL,
  },
  token: {
    name: "GOLD_BOX.Settings.Token.Name",
    hint: "GOLD_BOX.Settings.Token.Hint",
    scope: "client",
    config: true,
    type: String,
    default: "",
  },
  aiRole: {
    name: "GOLD_BOX.Settings.AiRole.Name",
    hint: "GOLD_BOX.Settings.AiRole.Hint",
    scope: "world",
    config: true,
    type: String,
    choices: AI_ROLE_CHOICES,
    default: "dm",
  },
  contextMessages: {
    name: "GOLD_BOX.Settings.ContextMessages.Name",
    hint: "GOLD_BOX.Settings.ContextMessages.Hint",
    scope: "world",
    config: true,
    type: Number,
    range: { min: 1, max: 50, step: 1 },
    default: 15,
  },
  aiMessageMode: {
    name: "GOLD_BOX.Settings.AiMessageMode.Name",
    hint: "GOLD_BOX.Settings.AiMessageMode.Hint",
    scope: "world",
    config: true,
    type: String,
    choices: {
      public: "GOLD_BOX.Settings.AiMessageMode.Choices.public",
      gm: "GOLD_BOX.Settings.AiMessageMode.Choices.gm",
    },
    default: "public",
  },
  narrationRelease: {
    name: "GOLD_BOX.Settings.NarrationRelease.Name",
    hint: "GOLD_BOX.Settings.NarrationRelease.Hint",
    scope: "world",
    config: true,
    type: String,
    choices: {
      publish: "GOLD_BOX.Settings.NarrationRelease.Choices.publish",
      review: "GOLD_BOX.Settings.NarrationRelease.Choices.review",
      review_auto: "GOLD_BOX.Settings.NarrationRelease.Choices.review_auto",
    },
    default: "publish",
  },
  narrationAutoPublishSeconds: {
    name: "GOLD_BOX.Settings.NarrationAutoPublishSeconds.Name",
    hint: "GOLD_BOX.Settings.NarrationAutoPublishSeconds.Hint",
    scope: "world",
    config: true,
    type: Number,
    range: { min: 1, max: 600, step: 1 },
    default: 60,
  },
  contextIncludePrivate: {
    name: "GOLD_BOX.Settings.ContextIncludePrivate.Name",
    hint: "GOLD_BOX.Settings.ContextIncludePrivate.Hint",
    scope: "world",
    config: true,
    type: Boolean,
    default: false,
  },
};

/**
 * Settings the core starts with (and syncs to the server with `settings_sync`), as opposed to
 * connection settings: the server reads the role and the context size; the core reads the
 * context size and who sees the AI (`aiMessageMode`, `contextIncludePrivate`), from which it
 * decides each turn's visibility and what the AI may read. Later changes of any setting reach
 * the core through `settingChanged`.
 */
export const SYNCED_SETTING_KEYS = ["aiRole", "contextMessages", "aiMessageMode", "contextIncludePrivate"];

/**
 * Register every Gold Box setting. Call from `Hooks.once("init")`.
 * @param {(key: string, value: unknown) => void} onChange  called after any setting changes
 */
export function registerSettings(onChange) {
  for (const [key, config] of Object.entries(SETTINGS)) {
    game.settings.register(MODULE_ID, key, {
      ...config,
      onChange: (value) => onChange(key, value),
    });
  }
}

/** @returns {unknown} the current value of one Gold Box setting */
export function getSetting(key) {
  return game.settings.get(MODULE_ID, key);
}

/** @returns {{aiRole: string, contextMessages: number, aiMessageMode: string, contextIncludePrivate: boolean}} the settings the core starts with */
export function syncedSettings() {
  return Object.fromEntries(SYNCED_SETTING_KEYS.map((key) => [key, getSetting(key)]));
}
