// The `game` object and Foundry's start-up sequence (Game#initialize / #setupGame;
// https://foundryvtt.com/api/v14/classes/foundry.Game.html and
// https://foundryvtt.com/api/v13/classes/foundry.Game.html, neither read; the hook order is
// https://foundryvtt.com/api/v14/modules/hookEvents.html, read: init, i18nInit, setup, ...,
// ready; https://foundryvtt.com/api/v13/modules/hookEvents.html, not read, the same order
// assumed; `User#isGM` counting an assistant GM is unconfirmed):
// `init` → language files → `i18nInit` → documents and `game.user` → `setup` → user
// interface (notifications, sidebar, chat log) → `ready`. As in Foundry, `game.user` is null
// during `init`, `ui.notifications` exists from the UI step on, and the chat sidebar is
// rendered before `ready` (option `uiAfterReady` renders it after, the other order a module
// can meet when Foundry's render finishes late).
import { ClientSettings } from "./settings.js";
import { Localization } from "./i18n.js";
import { Messages } from "./chat-message.js";
import { Notifications } from "./notifications.js";
import { ChatLog, Sidebar } from "./sidebar.js";
import { Collection } from "./utils.js";

// The builds modelled: 13.346 (https://foundryvtt.com/api/v13, the last v13 the
// foundry-vtt-types package documents) and 14.371 (see README's compatibility table).
const VERSIONS = { 13: "13.346", 14: "14.371" };

export class User {
  constructor({ id, name, role }) {
    this.id = id;
    this._id = id;
    this.name = name;
    this.role = role;
    this.active = true;
    /** The assigned character (an Actor), if any. */
    this.character = null;
  }

  get isGM() {
    return this.role >= globalThis.CONST.USER_ROLES.ASSISTANT;
  }

  hasRole(role) {
    return this.role >= role;
  }
}

/**
 * @param {{generation: number, userId: string, world: object, system: object}} options
 */
export function createGame({ generation, userId, world, system }) {
  const roles = globalThis.CONST.USER_ROLES;
  const users = new Collection();
  for (const user of [
    new User({ id: "gmUser000000000a", name: "Gamemaster", role: roles.GAMEMASTER }),
    new User({ id: "playerUser00000b", name: "Player One", role: roles.PLAYER }),
  ]) users.set(user.id, user);

  const game = {
    version: VERSIONS[generation],
    release: { generation, build: Number(VERSIONS[generation].split(".")[1]) },
    view: "game",
    ready: false,
    userId,
    user: null,
    users,
    world: { id: world.id, title: world.title },
    system: { id: system.id, title: system.title, version: system.version },
    modules: new Collection(),
    settings: new ClientSettings(generation),
    i18n: new Localization(),
    messages: new Messages(),
  };
  // The user's current visibility for what they post. v13: `core.rollMode` (a CONST.DICE_ROLL_MODES
  // value). v14: `core.messageMode` (a key of CONFIG.ChatMessage.modes). The v14 setting's name
  // is confirmed by modules ported to v14 (they read game.settings.get("core", "messageMode")),
  // not by the API pages, which do not list core settings.
  if (generation >= 14) game.settings.register("core", "messageMode", { scope: "client", config: false, type: String, default: "public" });
  else game.settings.register("core", "rollMode", { scope: "client", config: false, type: String, default: "publicroll" });
  // Per-denomination fulfilment methods ("" = Foundry's digital dice, "manual" = typed in).
  game.settings.register("core", "diceConfiguration", { scope: "client", config: false, type: Object, default: {} });
  game.settings.register("core", "uiConfig", {
    scope: "client",
    config: false,
    type: Object,
    default: { chatNotifications: "cards", uiScale: 1, colorScheme: { applications: "dark", interface: "dark" } },
  });
  return game;
}

/**
 * Run Foundry's start-up after the module scripts have been executed.
 * @param {{generation: number, uiAfterReady: boolean}} options
 */
export async function initializeGame({ generation, uiAfterReady, onUser = () => {} }) {
  const game = globalThis.game;
  const Hooks = globalThis.Hooks;
  Hooks.callAll("init");
  await game.i18n.initialize(game.modules.values());
  Hooks.callAll("i18nInit");
  game.user = game.users.get(game.userId);
  onUser();
  Hooks.callAll("setup");
  if (!uiAfterReady) await initializeUI(generation);
  game.ready = true;
  Hooks.callAll("ready");
  if (uiAfterReady) await initializeUI(generation);
}

async function initializeUI(generation) {
  const ui = globalThis.ui;
  const root = document.getElementById("interface");
  const notifications = document.createElement("ol");
  notifications.id = "notifications";
  root.append(notifications);
  ui.notifications = new Notifications(notifications);

  const right = document.createElement("section");
  right.id = "ui-right";
  root.append(right);
  ui.sidebar = new Sidebar();
  ui.sidebar.render(right);
  ui.chat = new ChatLog();
  await ui.chat.render({ force: true });
}
