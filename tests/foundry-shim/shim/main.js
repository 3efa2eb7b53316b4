// Boots the Foundry stand-in page. Query options:
//   v=13|14           Foundry generation (default 14): DOM, hook arguments, game.version
//   server=URL        stored as the gold-box `serverUrl` client setting before start-up
//   token=TEXT        stored as the gold-box `token` client setting before start-up
//   user=gm|player    who is logged in (default gm)
//   uiAfterReady=1    render the chat sidebar after `ready` instead of before
//   dsn=1             simulate an active Dice So Nice (game.dice3d); dsnDelay=ms per animation
//   notifications=pip the core `uiConfig.chatNotifications` setting (default cards)
//   controlToken=1    the user controls a token on the canvas (ChatMessage.getSpeaker uses it)
//   character=1       the user has an assigned character (ChatMessage.getSpeaker uses it)
//   manualDice=1      the core `diceConfiguration` fulfils every die manually: an
//                     interactive evaluation opens the roll resolver and waits for input
//   mode=KEY          the user's current message mode (v14 key: public|gm|blind|self; on
//                     v13 it is stored as the matching roll mode)
//
// API pages: every shim file cites the page of Foundry's API documentation it follows, for v14
// (https://foundryvtt.com/api/v14/...) and v13 (https://foundryvtt.com/api/v13/..., the same
// path). The v13 pages were read as published at foundryvtt.com/api/ while v13 was the current
// release (titled "API Documentation - Version 13"; where a copy did not show its version, the
// citation says so). "Read" marks a page whose text was checked; a page cited as not read was
// not, and what the shim does there is unconfirmed by Foundry's documentation.
// Order, like Foundry: globals → module.json → its styles and esmodules (as <script
// type="module">, not awaited past their execution) → init, i18nInit, setup, UI, ready.
import * as utils from "./utils.js";
import { Hooks } from "./hooks.js";
import { ChatMessage, MESSAGE_MODES, ROLL_MODE_OF } from "./chat-message.js";
import { DiceTerm, Die, NumericTerm, OperatorTerm, ParentheticalTerm, Roll, RollTerm, StringTerm } from "./dice.js";
import { createGame, initializeGame } from "./game.js";
import { installTestApi } from "./test-api.js";
import { defineProseMirrorElement } from "./prose-mirror.js";

const MODULE_ID = "gold-box";
const params = new URLSearchParams(location.search);
const generation = params.get("v") === "13" ? 13 : 14;

function installGlobals() {
  globalThis.CONST = Object.freeze({
    // https://foundryvtt.com/api/v14/variables/CONST.CHAT_MESSAGE_STYLES.html,
    // https://foundryvtt.com/api/v13/variables/CONST.CHAT_MESSAGE_STYLES.html (not read; the same
    // values are assumed, as the v13 ChatMessageData's `style` refers to this constant)
    CHAT_MESSAGE_STYLES: Object.freeze({ OTHER: 0, OOC: 1, IC: 2, EMOTE: 3 }),
    // v13 only (https://foundryvtt.com/api/v13/variables/CONST.DICE_ROLL_MODES.html, read: these
    // four values). Whether v14 still defines CONST.DICE_ROLL_MODES (deprecated) is unconfirmed;
    // the v14 page leaves it out so that a module cannot depend on it.
    ...(generation === 13
      ? { DICE_ROLL_MODES: Object.freeze({ PUBLIC: "publicroll", PRIVATE: "gmroll", BLIND: "blindroll", SELF: "selfroll" }) }
      : {}),
    USER_ROLES: Object.freeze({ NONE: 0, PLAYER: 1, TRUSTED: 2, ASSISTANT: 3, GAMEMASTER: 4 }),
  });
  // v14: https://foundryvtt.com/api/v14/variables/CONFIG.ChatMessage.html (read: `modes`, the
  // message visibility modes, and `popoutClass`); v13:
  // https://foundryvtt.com/api/v13/variables/CONFIG.ChatMessage.html (not read), with the roll
  // modes in CONFIG.Dice.rollModes instead:
  // https://foundryvtt.com/api/v13/variables/CONFIG.Dice.html (read: `rollModes` maps each mode
  // to `{icon, label}`); https://foundryvtt.com/api/v14/variables/CONFIG.Dice.html (read: no
  // `rollModes`).
  const chatMessageConfig = { documentClass: ChatMessage, batchSize: 100 };
  if (generation >= 14) chatMessageConfig.modes = MESSAGE_MODES;
  globalThis.CONFIG = {
    debug: { hooks: false },
    ChatMessage: chatMessageConfig,
    Dice: {
      rolls: [Roll],
      terms: { d: Die },
      randomUniform: Math.random,
      ...(generation === 13
        ? {
          rollModes: {
            publicroll: { label: "CHAT.RollPublic", icon: "fa-solid fa-globe" },
            gmroll: { label: "CHAT.RollPrivate", icon: "fa-solid fa-user-secret" },
            blindroll: { label: "CHAT.RollBlind", icon: "fa-solid fa-eye-slash" },
            selfroll: { label: "CHAT.RollSelf", icon: "fa-solid fa-user" },
          },
        }
        : {}),
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
      timeSince: utils.timeSince, Collection: utils.Collection, parseHTML: utils.parseHTML,
    },
    dice,
    documents: { ChatMessage },
    helpers: { Hooks },
  };
  globalThis.Hooks = Hooks;
  globalThis.Roll = Roll;
  globalThis.Die = Die;
  globalThis.ChatMessage = ChatMessage;
  globalThis.ui = {};
  if (generation >= 14) defineProseMirrorElement();
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
  if (params.get("manualDice") === "1") {
    localStorage.setItem("core.diceConfiguration", JSON.stringify({ d4: "manual", d6: "manual", d8: "manual", d10: "manual", d12: "manual", d20: "manual", d100: "manual" }));
  }
  if (params.has("mode")) {
    const mode = params.get("mode");
    if (generation >= 14) localStorage.setItem("core.messageMode", JSON.stringify(mode));
    else localStorage.setItem("core.rollMode", JSON.stringify(ROLL_MODE_OF[mode] ?? mode));
  }
}

/** The canvas as far as `ChatMessage.getSpeaker` reads it: the tokens the user controls. */
function installCanvas() {
  const actor = { id: "heroActor000000a", name: "Sir Hero", documentName: "Actor" };
  const token = { id: "heroToken000000a", name: "Sir Hero (token)", actor, parent: { id: "scene00000000001" } };
  globalThis.canvas = {
    ready: true,
    scene: { id: "scene00000000001" },
    tokens: { controlled: params.get("controlToken") === "1" ? [{ id: token.id, name: token.name, document: token, actor }] : [] },
  };
  if (params.get("character") === "1") globalThis.game.user.character = actor;
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
  await initializeGame({ generation, uiAfterReady: params.get("uiAfterReady") === "1", onUser: installCanvas });
  shim.booted = true;
}

boot().catch((err) => {
  console.error("Foundry shim | boot failed", err);
  window.__shim.bootError = String(err?.stack ?? err);
  globalThis.__shimRecorder?.errors.push({ source: "shim boot", message: String(err?.message ?? err), location: null, stack: String(err?.stack ?? "") });
});
