// Foundry's ChatMessage document and the `game.messages` collection, v13 and v14
// (https://foundryvtt.com/api/v14/classes/foundry.documents.ChatMessage.html, read;
// https://foundryvtt.com/api/v13/classes/foundry.documents.ChatMessage.html, not read: v13's
// `applyRollMode` is as modules ported to v13 use it).
// `ChatMessage.create` runs the `preCreateChatMessage` hook (which may cancel), applies the
// visibility asked for in its options, stores the message, resolves, and posts it to the chat
// log the way Foundry's `_onCreate` does (without awaiting the render), firing
// `createChatMessage`. Messages render as Foundry's `li.chat-message` card, with the content
// AND the flavor inserted as HTML (as Foundry does: flavor is HTML, so untrusted text must be
// escaped before it gets there) and the speaker alias as text. Both versions fire
// `renderChatMessageHTML(message, html: HTMLElement, context)` from `renderHTML()`
// (https://foundryvtt.com/api/v14/functions/hookEvents.renderChatMessageHTML.html and
// https://foundryvtt.com/api/v13/functions/hookEvents.renderChatMessageHTML.html, both read, v13
// as the copy at foundryvtt.com/api/, which does not show its version: the same signature; v13 also fires the deprecated jQuery `renderChatMessage`, which the shim leaves
// out so that a module cannot depend on it).
//
// Data (https://foundryvtt.com/api/v14/interfaces/foundry.documents.types.ChatMessageData.html,
// read; https://foundryvtt.com/api/v13/interfaces/foundry.documents.types.ChatMessageData.html,
// not read):
// `type` is a string sub-type ("base" by default), `style` a CONST.CHAT_MESSAGE_STYLES value,
// `whisper` user ids, `blind`, `speaker` {scene, actor, token, alias}.
import { Collection, deepClone, getProperty, randomID, setProperty } from "./utils.js";
import { Roll } from "./dice.js";

/**
 * v14's message visibility modes, `CONFIG.ChatMessage.modes`: Record<string, {label, icon,
 * handler(data)}> (https://foundryvtt.com/api/v14/variables/CONFIG.ChatMessage.html). The five
 * keys and what each handler does are taken from modules ported to v14; the API page gives the
 * shape only.
 */
export const MESSAGE_MODES = {
  public: { label: "CHAT.RollPublic", icon: "fa-solid fa-globe", handler: (data) => { data.whisper = []; data.blind = false; } },
  gm: { label: "CHAT.RollPrivate", icon: "fa-solid fa-user-secret", handler: (data) => { data.whisper = gmIds(); data.blind = false; } },
  blind: { label: "CHAT.RollBlind", icon: "fa-solid fa-eye-slash", handler: (data) => { data.whisper = gmIds(); data.blind = true; } },
  self: { label: "CHAT.RollSelf", icon: "fa-solid fa-user", handler: (data) => { data.whisper = [globalThis.game.user.id]; data.blind = false; } },
  ic: { label: "CHAT.RollIC", icon: "fa-solid fa-comment", handler: (data) => { data.whisper = []; data.blind = false; data.style = globalThis.CONST.CHAT_MESSAGE_STYLES.IC; } },
};

/** v14 message mode → v13 roll mode. */
export const ROLL_MODE_OF = { public: "publicroll", gm: "gmroll", blind: "blindroll", self: "selfroll", ic: "publicroll" };
/** v13 roll mode → v14 message mode (`Roll._mapLegacyRollMode` in v14). */
const MESSAGE_MODE_OF = { publicroll: "public", gmroll: "gm", blindroll: "blind", selfroll: "self", roll: "public" };

function gmIds() {
  return globalThis.game.users.filter((u) => u.isGM).map((u) => u.id);
}

const isV14 = () => globalThis.game.release.generation >= 14;

/** v14: a deprecated `rollMode` option, mapped as Foundry does and warned about. */
export function mapLegacyRollMode(rollMode, where) {
  console.warn(`The rollMode option of ${where} is deprecated in favor of messageMode, a string value in `
    + "CONFIG.ChatMessage.modes. Deprecated since Version 14. Backwards-compatible support will be removed in Version 16");
  return MESSAGE_MODE_OF[rollMode] ?? rollMode;
}

export class Messages extends Collection {
  static documentName = "ChatMessage";

  get documentName() {
    return "ChatMessage";
  }
}

export class ChatMessage {
  static metadata = Object.freeze({ name: "ChatMessage", collection: "messages" });

  static get implementation() {
    return globalThis.CONFIG.ChatMessage.documentClass;
  }

  constructor(data = {}) {
    const source = deepClone({ ...data, rolls: undefined });
    const styles = globalThis.CONST.CHAT_MESSAGE_STYLES;
    if (data.content !== undefined && data.content !== null && typeof data.content === "object") {
      throw new Error("ChatMessage validation errors: content: must be a string");
    }
    this._id = source._id ?? randomID();
    this.type = source.type ?? "base";
    this.style = source.style ?? styles.OTHER;
    this.content = data.content === undefined || data.content === null ? "" : String(data.content);
    this.flavor = source.flavor ?? "";
    this.speaker = { scene: null, actor: null, token: null, alias: undefined, ...(source.speaker ?? {}) };
    this.whisper = Array.isArray(source.whisper) ? [...source.whisper] : [];
    this.blind = Boolean(source.blind);
    this.sound = source.sound ?? null;
    this.emote = Boolean(source.emote);
    this.flags = source.flags ?? {};
    this.timestamp = Number.isFinite(source.timestamp) ? source.timestamp : Date.now();
    this._authorId = source.author ?? source.user ?? globalThis.game.userId;
    this._rolls = (data.rolls ?? []).map((r) => {
      if (r instanceof Roll) return r;
      return Roll.fromData(typeof r === "string" ? JSON.parse(r) : r);
    });
    this.logged = false;
  }

  get id() {
    return this._id;
  }

  get documentName() {
    return "ChatMessage";
  }

  get rolls() {
    return this._rolls;
  }

  get author() {
    return globalThis.game.users.get(this._authorId) ?? null;
  }

  /** Deprecated since v12 in favour of `author`, as Foundry warns. */
  get user() {
    console.warn("You are accessing ChatMessage#user which has been migrated to ChatMessage#author");
    return this.author;
  }

  get isRoll() {
    return this.rolls.length > 0;
  }

  get isAuthor() {
    return this._authorId === globalThis.game.user?.id;
  }

  get alias() {
    return this.speaker.alias ?? this.author?.name ?? "";
  }

  get visible() {
    const user = globalThis.game.user;
    if (this.whisper.length) {
      if (this.isRoll && !this.blind) return true;
      return user?.isGM || this.isAuthor || this.whisper.includes(user?.id);
    }
    return true;
  }

  /**
   * Whether the current user may read the message's content: "For certain dice rolls, for
   * example, the message itself may be visible while the content of that message is not"
   * (https://foundryvtt.com/api/v14/classes/foundry.documents.ChatMessage.html#iscontentvisible,
   * read). Which rolls is not on the page: a whispered roll (a GM or blind roll) is visible to
   * everyone as "privately rolled some dice", its content only to its recipients, its author
   * (not when blind) and the GMs, as Foundry's client code does (read in an install, not in the
   * API pages: unconfirmed for v14).
   */
  get isContentVisible() {
    if (!this.visible) return false;
    const user = globalThis.game.user;
    if (this.blind) return Boolean(user?.isGM);
    if (this.whisper.length) return Boolean(user?.isGM) || this.whisper.includes(user?.id) || this.isAuthor;
    return true;
  }

  getFlag(scope, key) {
    return getProperty(this.flags?.[scope], key);
  }

  async setFlag(scope, key, value) {
    return this.update({ [`flags.${scope}.${key}`]: value });
  }

  /** v13 `ChatMessage#applyRollMode(rollMode)`: "publicroll" | "gmroll" | "blindroll" | "selfroll". */
  applyRollMode(rollMode) {
    if (isV14()) return this.applyMode(mapLegacyRollMode(rollMode, "ChatMessage#applyRollMode"));
    const modes = globalThis.CONST.DICE_ROLL_MODES;
    const gms = gmIds();
    if (rollMode === modes.PRIVATE) this.whisper = gms;
    else if (rollMode === modes.BLIND) {
      this.whisper = gms;
      this.blind = true;
    } else if (rollMode === modes.SELF) this.whisper = [globalThis.game.user.id];
    else {
      this.whisper = [];
      this.blind = false;
    }
    return this;
  }

  /**
   * v14 `ChatMessage#applyMode(mode)` and `ChatMessage.applyMode(data, mode)`: apply a key of
   * CONFIG.ChatMessage.modes; without a (known) mode, the user's `core.messageMode`.
   */
  applyMode(mode) {
    const data = { whisper: this.whisper, blind: this.blind, style: this.style };
    this.constructor.applyMode(data, mode);
    Object.assign(this, data);
    return this;
  }

  static applyMode(data, mode) {
    if (!isV14()) throw new TypeError("ChatMessage.applyMode is not a function before v14");
    const modes = globalThis.CONFIG.ChatMessage.modes;
    if (!(mode in modes)) mode = globalThis.game.settings.get("core", "messageMode");
    modes[mode]?.handler(data);
    return data;
  }

  toObject() {
    return {
      _id: this._id,
      type: this.type,
      style: this.style,
      author: this._authorId,
      timestamp: this.timestamp,
      flavor: this.flavor,
      content: this.content,
      speaker: { ...this.speaker },
      whisper: [...this.whisper],
      blind: this.blind,
      rolls: this.rolls.map((r) => JSON.stringify(r)),
      sound: this.sound,
      emote: this.emote,
      flags: deepClone(this.flags),
    };
  }

  toJSON() {
    return this.toObject();
  }

  /**
   * Create one message (or several, given an array), as the server round trip would.
   * @returns {Promise<ChatMessage|undefined>} undefined when a preCreate hook cancelled it
   */
  static async create(data, options = {}) {
    if (Array.isArray(data)) return Promise.all(data.map((d) => this.create(d, options)));
    const userId = globalThis.game.user.id;
    const message = data instanceof ChatMessage ? data : new this(data);
    if (globalThis.Hooks.call("preCreateChatMessage", message, data, options, userId) === false) return undefined;
    // `_preCreate`: v14 applies `messageMode` (a deprecated `rollMode` is mapped to one);
    // v13 applies `rollMode`. Without either, the data's own whisper/blind stand.
    if (isV14()) {
      let mode = options.messageMode;
      if (options.rollMode) mode = mapLegacyRollMode(options.rollMode, "ChatMessage.create");
      if (mode) message.applyMode(mode);
    } else if (options.rollMode) message.applyRollMode(options.rollMode);
    await new Promise((resolve) => setTimeout(resolve, 0)); // the socket round trip
    globalThis.game.messages.set(message.id, message);
    message._onCreate(data, options, userId);
    globalThis.Hooks.callAll("createChatMessage", message, options, userId);
    return message;
  }

  _onCreate(_data, _options, _userId) {
    const chat = globalThis.ui?.chat;
    if (!chat) return;
    chat.postOne(this, { notify: true }).catch((err) => {
      globalThis.Hooks.onError("ChatMessage#_onCreate", err, { log: "error" });
    });
  }

  async update(changes = {}) {
    for (const [key, value] of Object.entries(changes)) setProperty(this, key, value);
    globalThis.Hooks.callAll("updateChatMessage", this, changes, {}, globalThis.game.user.id);
    await globalThis.ui?.chat?.updateMessage?.(this);
    return this;
  }

  async delete() {
    globalThis.game.messages.delete(this.id);
    globalThis.Hooks.callAll("deleteChatMessage", this, {}, globalThis.game.user.id);
    await globalThis.ui?.chat?.deleteMessage?.(this.id);
    return this;
  }

  /**
   * `ChatMessage.getSpeaker({scene, actor, token, alias})`, v13 and v14 alike: a given token
   * speaks; else a given actor; else, with neither, the token the user controls on the canvas,
   * else the user's assigned character, else the user. `alias` only renames the speaker: with
   * a controlled token or a character, the speaker still carries their actor and token ids
   * (the alias does not make the message anonymous).
   * https://foundryvtt.com/api/v14/classes/foundry.documents.ChatMessage.html
   */
  static getSpeaker({ scene, actor, token, alias } = {}) {
    const user = globalThis.game.user;
    const sceneId = scene?.id ?? globalThis.canvas?.scene?.id ?? null;
    const fromToken = (t) => ({ scene: t.parent?.id ?? sceneId, actor: t.actor?.id ?? null, token: t.id ?? null, alias: alias || t.name });
    const fromActor = (a) => ({ scene: sceneId, actor: a.id ?? null, token: null, alias: alias || a.name });
    if (token) return fromToken(token);
    if (actor) return fromActor(actor);
    const controlled = globalThis.canvas?.tokens?.controlled ?? [];
    if (controlled.length) return fromToken(controlled[0].document);
    if (user?.character) return fromActor(user.character);
    return { scene: sceneId, actor: null, token: null, alias: alias || user.name };
  }

  /** The message card, like templates/sidebar/chat-message.html. */
  renderElement({ canDelete = globalThis.game.user?.isGM } = {}) {
    const li = document.createElement("li");
    li.classList.add("chat-message", "message", "flexcol");
    if (this.whisper.length) li.classList.add("whisper");
    if (this.blind) li.classList.add("blind");
    if (this.getFlag("core", "cssClass")) li.classList.add(this.getFlag("core", "cssClass"));
    li.dataset.messageId = this.id;

    const header = document.createElement("header");
    header.classList.add("message-header", "flexrow");
    const sender = document.createElement("h4");
    sender.classList.add("message-sender");
    sender.textContent = this.alias;
    const metadata = document.createElement("span");
    metadata.classList.add("message-metadata");
    const time = document.createElement("time");
    time.classList.add("message-timestamp");
    time.textContent = globalThis.foundry.utils.timeSince(this.timestamp);
    metadata.append(time);
    if (canDelete) {
      const del = document.createElement("a");
      del.classList.add("message-delete");
      del.setAttribute("aria-label", "Delete");
      del.innerHTML = "<i class=\"fas fa-trash\"></i>";
      metadata.append(del);
    }
    header.append(sender, metadata);
    // A roll whose content the user may not read shows who rolled, not the flavor.
    const flavorHtml = this.isRoll && !this.isContentVisible
      ? `${this.author?.name ?? "Someone"} privately rolled some dice.`
      : this.flavor;
    if (flavorHtml) {
      const flavor = document.createElement("span");
      flavor.classList.add("flavor-text");
      flavor.innerHTML = flavorHtml;
      header.append(flavor);
    }

    const content = document.createElement("div");
    content.classList.add("message-content");
    content.innerHTML = this.#contentHtml();
    li.append(header, content);
    return li;
  }

  #contentHtml() {
    if (!this.isContentVisible) return "";
    if (this.isRoll) {
      const probe = document.createElement("div");
      probe.innerHTML = this.content;
      if (!probe.childElementCount) return this.rolls.map((r) => r.renderSync()).join("");
    }
    return this.content;
  }

  /** The rendered card as an HTMLElement, after the `renderChatMessageHTML` hook. */
  async renderHTML(options = {}) {
    const element = this.renderElement(options);
    globalThis.Hooks.callAll("renderChatMessageHTML", this, element, { message: this.toObject(), alias: this.alias });
    return element;
  }
}
