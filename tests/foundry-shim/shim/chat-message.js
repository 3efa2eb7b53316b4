// Foundry's ChatMessage document and the `game.messages` collection. `ChatMessage.create`
// runs the `preCreateChatMessage` hook (which may cancel), stores the message, resolves, and
// posts it to the chat log the way Foundry's `_onCreate` does (without awaiting the render),
// firing `createChatMessage`. Messages render as Foundry's `li.chat-message` card, with the
// content inserted as HTML (as Foundry does) and the speaker alias as text. v12 fires
// `renderChatMessage(message, jQuery, data)` from `getHTML()`; v13 fires
// `renderChatMessageHTML(message, HTMLElement, context)` from `renderHTML()`.
import { Collection, deepClone, getProperty, randomID, setProperty } from "./utils.js";
import { Roll } from "./dice.js";

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

  get isContentVisible() {
    if (!this.visible) return false;
    if (this.blind) return Boolean(globalThis.game.user?.isGM);
    return true;
  }

  getFlag(scope, key) {
    return getProperty(this.flags?.[scope], key);
  }

  async setFlag(scope, key, value) {
    return this.update({ [`flags.${scope}.${key}`]: value });
  }

  applyRollMode(rollMode) {
    const modes = globalThis.CONST.DICE_ROLL_MODES;
    const gms = globalThis.game.users.filter((u) => u.isGM).map((u) => u.id);
    if (rollMode === modes.PRIVATE) this.whisper = gms;
    else if (rollMode === modes.BLIND) {
      this.whisper = gms;
      this.blind = true;
    } else if (rollMode === modes.SELF) this.whisper = [globalThis.game.user.id];
    else {
      this.whisper = [];
      this.blind = false;
    }
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
    if (options.rollMode) message.applyRollMode(options.rollMode);
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

  /** Foundry v12 `ChatMessage.getSpeaker`, for a page without canvas, tokens or characters. */
  static getSpeaker({ scene, actor, token, alias } = {}) {
    const user = globalThis.game.user;
    if (token) return { scene: scene?.id ?? null, actor: token.actor?.id ?? null, token: token.id ?? null, alias: alias || token.name };
    if (actor) return { scene: scene?.id ?? null, actor: actor.id ?? null, token: null, alias: alias || actor.name };
    return { scene: scene?.id ?? null, actor: null, token: null, alias: alias || user.name };
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
    if (this.flavor) {
      const flavor = document.createElement("span");
      flavor.classList.add("flavor-text");
      flavor.innerHTML = this.flavor;
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

  /** v12: the rendered card as jQuery, after the `renderChatMessage` hook. */
  async getHTML() {
    const html = globalThis.jQuery(this.renderElement());
    globalThis.Hooks.call("renderChatMessage", this, html, { message: this.toObject(), alias: this.alias });
    return html;
  }

  /** v13: the rendered card as an HTMLElement, after the `renderChatMessageHTML` hook. */
  async renderHTML(options = {}) {
    const element = this.renderElement(options);
    globalThis.Hooks.callAll("renderChatMessageHTML", this, element, { message: this.toObject(), alias: this.alias });
    return element;
  }
}
