// The `game` object and Foundry's start-up sequence (Game#initialize / #setupGame):
// `init` → language files → `i18nInit` → documents and `game.user` → `setup` → user
// interface (notifications, sidebar, chat log) → `ready`. As in Foundry, `game.user` is null
// during `init`, `ui.notifications` exists from the UI step on, and the chat sidebar is
// rendered before `ready` (option `uiAfterReady` renders it after, the other order a module
// can meet when Foundry's render finishes late).
import { ClientSettings } from "./settings.js";
import { Localization } from "./i18n.js";
import { Messages } from "./chat-message.js";
import { Notifications } from "./notifications.js";
import { ChatLogV12, SidebarV12 } from "./sidebar-v12.js";
import { ChatLogV13, SidebarV13 } from "./sidebar-v13.js";
import { Collection } from "./utils.js";

const VERSIONS = { 12: "12.331", 13: "13.346" };

export class User {
  constructor({ id, name, role }) {
    this.id = id;
    this._id = id;
    this.name = name;
    this.role = role;
    this.active = true;
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
  game.settings.register("core", "rollMode", { scope: "client", config: false, type: String, default: "publicroll" });
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
export async function initializeGame({ generation, uiAfterReady }) {
  const game = globalThis.game;
  const Hooks = globalThis.Hooks;
  Hooks.callAll("init");
  await game.i18n.initialize(game.modules.values());
  Hooks.callAll("i18nInit");
  game.user = game.users.get(game.userId);
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
  if (generation >= 13) {
    ui.sidebar = new SidebarV13();
    ui.sidebar.render(right);
    ui.chat = new ChatLogV13();
    await ui.chat.render({ force: true });
  } else {
    ui.sidebar = new SidebarV12();
    ui.sidebar.render(right);
    ui.chat = new ChatLogV12();
    await ui.chat.render(true)._renderPromise;
  }
}
