// Entry point of the Gold Box Foundry module (module.json `esmodules`). Foundry glue only:
// registers settings at `init`, keeps the Take AI Turn button in the chat sidebar, loads the
// wasm core, and once both the core and Foundry's `ready` are there (GM only) starts the core
// and publishes `game.modules.get("gold-box").api`, then fires the `gold-box.ready` hook.
// Hooks are registered synchronously at import: Foundry does not wait for module scripts.
import { AiTurnButton } from "./button.js";
import { collectChatEntries } from "./chat-context.js";
import { registerChatPlacement } from "./chat-placement.js";
import { MODULE_ID } from "./constants.js";
import { CoreEventHandler } from "./core-events.js";
import { createHostBridge } from "./host-bridge.js";
import { getSetting, registerSettings, syncedSettings } from "./settings.js";
import { registerReviewHooks, resumeAutoPublish } from "./review.js";
import { registerUsageFooter } from "./usage-footer.js";
import { loadGoldBoxCore } from "./wasm-loader.js";

/** @type {object|null} the running GoldBoxCore */
let core = null;
/** @type {Promise<{GoldBoxCore?: Function, error?: unknown}>|null} */
let wasmLoad = null;

const isGM = () => game.user?.isGM === true;
const button = new AiTurnButton({
  onClick: () => {
    // While a turn runs the button is Stop; otherwise it takes (or retries) a turn.
    if (button.stops) core?.cancelTurn();
    else takeAiTurn().catch(() => {});
  },
});
const events = new CoreEventHandler(button);

/** Start loading the wasm once; the promise never rejects. */
function ensureWasmLoading() {
  wasmLoad ??= loadGoldBoxCore().then(
    (GoldBoxCore) => ({ GoldBoxCore }),
    (error) => ({ error }),
  );
  return wasmLoad;
}

/** Collect the recent chat and ask the core for an AI turn. Resolves to the request id. */
async function takeAiTurn() {
  if (!core) {
    ui.notifications?.error(game.i18n.localize("GOLD_BOX.Errors.NotLoaded"));
    throw new Error("Gold Box core is not running");
  }
  if (button.thinking) throw new Error("an AI turn is already running");
  try {
    // The core says how many of the latest messages it wants, and decides what the AI may
    // read of them (each is marked public or private) and who sees the turn's output.
    const entries = collectChatEntries(game.messages, core.contextScan());
    return await core.takeAiTurn(entries);
  } catch (err) {
    events.turnRejected(err);
    throw err;
  }
}

function onSettingChanged(key, value) {
  if (!core) return;
  try {
    core.settingChanged(key, value);
  } catch (err) {
    console.error(`Gold Box | the core refused the change of setting ${key}`, err);
  }
}

function reportLoadFailure(error) {
  console.error("Gold Box | the WebAssembly core could not be loaded", error);
  ui.notifications?.error(game.i18n.localize("GOLD_BOX.Errors.WasmLoad"));
}

async function startCore() {
  const { GoldBoxCore, error } = await ensureWasmLoading();
  if (!GoldBoxCore) {
    reportLoadFailure(error);
    return;
  }
  const host = createHostBridge({ onEvent: (event) => events.handle(event) });
  core = new GoldBoxCore(host);
  const api = {
    core,
    state: () => core.state(),
    clientId: () => core.clientId(),
    takeAiTurn,
    cancelTurn: () => core.cancelTurn(),
  };
  const module = game.modules.get(MODULE_ID);
  if (module) module.api = api;
  try {
    core.start({
      serverUrl: String(getSetting("serverUrl") ?? ""),
      token: String(getSetting("token") ?? ""),
      world: { id: game.world.id, title: game.world.title, system: game.system.id },
      user: { id: game.user.id, name: game.user.name, is_gm: true },
      settings: syncedSettings(),
    });
  } catch (err) {
    // e.g. a server URL that is not http(s): the GM fixes the setting, the core stays idle.
    console.error("Gold Box | the core could not start", err);
    const message = err instanceof Error ? err.message : String(err);
    ui.notifications?.error(game.i18n.format("GOLD_BOX.Errors.StartFailed", { message }));
  }
  button.setConnection(core.state());
  resumeAutoPublish();
  Hooks.callAll(`${MODULE_ID}.ready`, api);
}

Hooks.once("init", () => {
  registerSettings(onSettingChanged);
});

Hooks.once("setup", () => {
  // game.user is known from here on; players never load the core.
  if (isGM()) ensureWasmLoading();
});

registerChatPlacement(button, isGM);
registerUsageFooter();
registerReviewHooks(() => game.modules.get(MODULE_ID)?.api, events.drafts);

Hooks.once("ready", async () => {
  if (!isGM()) return;
  try {
    await startCore();
  } catch (err) {
    console.error("Gold Box | failed to start", err);
    ui.notifications?.error(game.i18n.localize("GOLD_BOX.Errors.Start"));
  }
});
