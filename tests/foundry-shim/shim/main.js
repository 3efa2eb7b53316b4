// Boots the Foundry stand-in page. Query options:
//   v=12|13           Foundry generation (default 12): DOM, hook arguments, game.version
//   server=URL        stored as the gold-box `serverUrl` client setting before start-up
//   token=TEXT        stored as the gold-box `token` client setting before start-up
//   user=gm|player    who is logged in (default gm)
//   uiAfterReady=1    render the chat sidebar after `ready` instead of before
//   dsn=1             simulate an active Dice So Nice (game.dice3d); dsnDelay=ms per animation
//   notifications=pip the v13 core `uiConfig.chatNotifications` setting (default cards)
// Order, like Foundry: globals → module.json → its styles and esmodules (as <script
// type="module">, not awaited past their execution) → init, i18nInit, setup, UI, ready.
import * as utils from "./utils.js";
import { Hooks } from "./hooks.js";
import { ChatMessage } from "./chat-message.js";
import { DiceTerm, Die, NumericTerm, OperatorTerm, ParentheticalTerm, Roll, RollTerm, StringTerm } from "./dice.js";
import { createGame, initializeGame } from "./game.js";
import { installTestApi } from "./test-api.js";

const MODULE_ID = "gold-box";
const params = new URLSearchParams(location.search);
const generation = params.get("v") === "13" ? 13 : 12;

function installGlobals() {
  globalThis.CONST = Object.freeze({
    CHAT_MESSAGE_STYLES: Object.freeze({ OTHER: 0, OOC: 1, IC: 2, EMOTE: 3 }),
    DICE_ROLL_MODES: Object.freeze({ PUBLIC: "publicroll", PRIVATE: "gmroll", BLIND: "blindroll", SELF: "selfroll" }),
    USER_ROLES: Object.freeze({ NONE: 0, PLAYER: 1, TRUSTED: 2, ASSISTANT: 3, GAMEMASTER: 4 }),
  });
  globalThis.CONFIG = {
    debug: { hooks: false },
    ChatMessage: { documentClass: ChatMessage, batchSize: 100 },
    Dice: {
      rolls: [Roll],
      terms: { d: Die },
      randomUniform: Math.random,
      rollModes: { publicroll: "CHAT.RollPublic", gmroll: "CHAT.RollPrivate", blindroll: "CHAT.RollBlind", selfroll: "CHAT.RollSelf" },
    },
    sounds: { dice: "sounds/dice.wav", notification: "sounds/notify.wav" },
  };
  const dice = { Roll, terms: { RollTerm, DiceTerm, Die, NumericTerm, OperatorTerm, ParentheticalTerm, StringTerm } };
  globalThis.foundry = {
    utils: {
      randomID: utils.randomID, getType: utils.getType, isEmpty: utils.isEmpty, deepClone: utils.deepClone,
      duplicate: utils.duplicate, getProperty: utils.getProperty, setProperty: utils.setProperty,
      hasProperty: utils.hasProperty, expandObject: utils.expandObject, flattenObject: utils.flattenObject,
      mergeObject: utils.mergeObject, isNewerVersion: utils.isNewerVersion, debounce: utils.debounce,
      timeSince: utils.timeSince, Collection: utils.Collection,
      ...(generation >= 13 ? { parseHTML: utils.parseHTML } : {}),
    },
    dice,
    documents: generation >= 13 ? { ChatMessage } : {},
    helpers: generation >= 13 ? { Hooks } : {},
  };
  globalThis.Hooks = Hooks;
  globalThis.Roll = Roll;
  globalThis.Die = Die;
  globalThis.ChatMessage = ChatMessage;
  globalThis.ui = {};
}

function loadScript(attributes) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    Object.assign(script, attributes);
    script.addEventListener("load", () => resolve());
    script.addEventListener("error", () => reject(new Error(`Failed to load script ${attributes.src}`)));
    document.head.append(script);
  });
}

/** Client settings a GM would have saved earlier: Foundry keeps them in localStorage. */
function storeInitialClientSettings() {
  for (const [param, key] of [["server", "serverUrl"], ["token", "token"]]) {
    if (params.has(param)) localStorage.setItem(`${MODULE_ID}.${key}`, JSON.stringify(params.get(param)));
  }
  if (params.get("notifications") === "pip") {
    localStorage.setItem("core.uiConfig", JSON.stringify({ chatNotifications: "pip", uiScale: 1 }));
  }
}

function buildInterface() {
  document.body.classList.add(`system-${globalThis.game.system.id}`, `foundry-v${generation}`);
  const root = document.createElement("div");
  root.id = "interface";
  document.body.append(root);
}

async function loadModule(manifestUrl) {
  const response = await fetch(manifestUrl);
  if (!response.ok) throw new Error(`Cannot read ${manifestUrl}: HTTP ${response.status}`);
  const manifest = await response.json();
  const base = `/modules/${manifest.id}/`;
  globalThis.game.modules.set(manifest.id, {
    id: manifest.id,
    title: manifest.title,
    version: manifest.version,
    active: true,
    esmodules: new Set(manifest.esmodules ?? []),
    styles: new Set(manifest.styles ?? []),
    languages: manifest.languages ?? [],
    relationships: manifest.relationships ?? {},
    manifest,
  });
  for (const style of manifest.styles ?? []) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = `${base}${style}`;
    document.head.append(link);
  }
  for (const script of manifest.scripts ?? []) await loadScript({ src: `${base}${script}` });
  for (const esmodule of manifest.esmodules ?? []) await loadScript({ src: `${base}${esmodule}`, type: "module" });
  return manifest;
}

function installDiceSoNice() {
  const delay = Number(params.get("dsnDelay") ?? 200);
  globalThis.game.modules.set("dice-so-nice", { id: "dice-so-nice", title: "Dice So Nice!", active: true, languages: [] });
  globalThis.game.dice3d = {
    waits: [],
    isEnabled: () => true,
    waitFor3DAnimationByMessageID(messageId) {
      this.waits.push({ messageId, at: Date.now() });
      return new Promise((resolve) => setTimeout(() => resolve(true), delay));
    },
  };
}

async function boot() {
  const shim = { generation, booted: false, bootError: null };
  window.__shim = shim;
  installGlobals();
  if (generation === 12) await loadScript({ src: "/vendor/jquery-3.7.1.min.js" });
  const userId = params.get("user") === "player" ? "playerUser00000b" : "gmUser000000000a";
  globalThis.game = createGame({
    generation,
    userId,
    world: { id: "gold-box-test-world", title: "Gold Box Test World" },
    system: { id: params.get("system") ?? "dnd5e", title: "Test System", version: "1.0.0" },
  });
  if (params.get("dsn") === "1") installDiceSoNice();
  installTestApi(shim);
  storeInitialClientSettings();
  buildInterface();
  await loadModule(`/modules/${MODULE_ID}/module.json`);
  await initializeGame({ generation, uiAfterReady: params.get("uiAfterReady") === "1" });
  shim.booted = true;
}

boot().catch((err) => {
  console.error("Foundry shim | boot failed", err);
  window.__shim.bootError = String(err?.stack ?? err);
  globalThis.__shimRecorder?.errors.push({ source: "shim boot", message: String(err?.message ?? err), location: null, stack: String(err?.stack ?? "") });
});
