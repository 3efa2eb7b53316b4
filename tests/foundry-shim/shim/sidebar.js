// The sidebar and chat tab (ApplicationV2) of Foundry v13 and v14, following their ChatLog: the
// tab renders its `log` and `input` parts once (section#chat > .chat-scroll > ol.chat-log, and
// .chat-form); the first render also creates `#chat-notifications`, the shared chat input
// `#chat-message` and `#chat-controls` in #ui-right-column-1; `_toggleNotifications` moves the
// input and controls into the sidebar's `.chat-form`, the chat popout's, or
// `#chat-notifications`, and fires `renderChatInput(app, elements, {previousParent})` on every
// call. Each render ends with the `renderApplicationV2`/`renderHandlebarsApplication`/
// `renderAbstractSidebarTab`/`renderChatLog` hooks, called with (app, HTMLElement, context,
// options).
//
// API pages: ChatLog https://foundryvtt.com/api/v14/classes/foundry.applications.sidebar.tabs.ChatLog.html
// and https://foundryvtt.com/api/v13/classes/foundry.applications.sidebar.tabs.ChatLog.html (both
// read; `_toggleNotifications` and `_shouldShowNotifications` are not on them: their behaviour is
// as modules ported to v13 and v14 report it, unconfirmed by an API page); Sidebar
// https://foundryvtt.com/api/v14/classes/foundry.applications.sidebar.Sidebar.html (read) and
// https://foundryvtt.com/api/v13/classes/foundry.applications.sidebar.Sidebar.html (not read);
// `renderChatInput` in v13 https://foundryvtt.com/api/v13/functions/hookEvents.renderChatInput.html
// and https://foundryvtt.com/api/v13/interfaces/hookEvents.RenderChatInputContext.html (both
// read, the second titled Version 13: the same signature as v14's, below).
//
// What v14 changes here:
// - the input is `<prose-mirror id="chat-message">` (see prose-mirror.js), not a textarea;
// - the visibility buttons are `#message-modes` (one per CONFIG.ChatMessage.modes key, with
//   `data-mode`) instead of v13's `#roll-privacy` (one per roll mode, `data-roll-mode`);
//   confirmed by modules ported to v14 (they moved their buttons from #roll-privacy to
//   #message-modes), not by an API page;
// - `renderChatInput` (https://foundryvtt.com/api/v14/functions/hookEvents.renderChatInput.html:
//   `app: ChatLog`, `elements: Record<string, HTMLElement>` "a mapping of CSS selectors to the
//   elements that were moved", `context: RenderChatInputContext` = {previousParent},
//   https://foundryvtt.com/api/v14/interfaces/hookEvents.RenderChatInputContext.html). Which
//   selectors v14 puts in `elements` besides "#chat-message" is unconfirmed: the shim passes
//   "#chat-message", "#chat-controls" and "#message-modes";
// - the popout is `CONFIG.ChatMessage.popoutClass` (ChatPopout,
//   https://foundryvtt.com/api/v14/variables/CONFIG.ChatMessage.html); the shim models it as a
//   ChatLog in popout mode whose read-only `parent` is the sidebar's ChatLog. That
//   ApplicationV2 has a read-only `parent` in v14 is as reported; what it refers to for the
//   chat apps is unconfirmed.
// The order of the input and the controls inside the chat form is v13's in both (unconfirmed
// for v14); the module must not depend on it.

const TABS = ["chat", "combat", "settings"];

export class Sidebar {
  expanded = true;
  tabGroups = { primary: "chat" };

  render(parent) {
    const column = document.createElement("div");
    column.id = "ui-right-column-1";
    const sidebar = document.createElement("aside");
    sidebar.id = "sidebar";
    sidebar.classList.add("expanded");
    const buttons = TABS.map((tab) => `<li><button type="button" class="ui-control plain icon${tab === "chat" ? " active" : ""}" `
      + `data-action="tab" data-tab="${tab}" data-group="primary" aria-label="${tab}">${tab}</button>`
      + "<div class=\"notification-pip\"></div></li>").join("");
    sidebar.innerHTML = `<nav id="sidebar-tabs" class="tabs"><menu class="flexcol">${buttons}`
      + "<li><button type=\"button\" class=\"ui-control plain icon collapse\" data-action=\"toggleState\">&gt;</button></li>"
      + "</menu></nav><div id=\"sidebar-content\" class=\"flexcol\"></div>";
    const content = sidebar.querySelector("#sidebar-content");
    for (const tab of TABS.filter((t) => t !== "chat")) {
      const section = document.createElement("section");
      section.id = tab;
      section.classList.add("tab", "sidebar-tab", "flexcol");
      section.dataset.tab = tab;
      section.dataset.group = "primary";
      content.append(section);
    }
    parent.append(column, sidebar);
    this.element = sidebar;
  }

  toggleExpanded(expanded = !this.expanded) {
    this.expanded = expanded;
    this.element.classList.toggle("expanded", expanded);
    this.element.classList.toggle("collapsed", !expanded);
    globalThis.Hooks.callAll("collapseSidebar", this, !expanded);
    globalThis.ui.chat._toggleNotifications();
  }

  changeTab(tab, group = "primary") {
    const previous = this.tabGroups[group];
    if (previous === tab) return;
    this.tabGroups[group] = tab;
    for (const b of this.element.querySelectorAll("#sidebar-tabs [data-tab]")) b.classList.toggle("active", b.dataset.tab === tab);
    for (const s of this.element.querySelectorAll("#sidebar-content > .tab")) s.classList.toggle("active", s.dataset.tab === tab);
    globalThis.ui[previous]?._onDeactivate?.();
    globalThis.ui[tab]?._onActivate?.();
    globalThis.Hooks.callAll("changeSidebarTab", globalThis.ui[tab] ?? { tabName: tab });
  }
}

export class ChatLog {
  static tabName = "chat";
  static NOTIFY_DURATION = 5000;

  rendered = false;
  element = null;
  popout = null;

  #parent;

  constructor({ isPopout = false, parent = null } = {}) {
    this.isPopout = isPopout;
    this.#parent = parent;
    this.id = isPopout ? "chat-popout" : "chat";
    this.options = { id: this.id, stream: false, classes: ["flexcol"] };
  }

  /** v14: read-only (a getter; assigning to it throws in module code, which is strict). */
  get parent() {
    return globalThis.game.release.generation >= 14 ? this.#parent : undefined;
  }

  get tabName() {
    return "chat";
  }

  get collection() {
    return globalThis.game.messages;
  }

  get active() {
    return globalThis.ui.sidebar.tabGroups.primary === "chat";
  }

  /** ApplicationV2#render: resolves with the application once rendered. */
  async render(options = {}) {
    const isFirstRender = !this.rendered;
    const renderOptions = { force: Boolean(options.force ?? options === true), isFirstRender, parts: isFirstRender ? ["log", "input"] : [] };
    const context = { user: globalThis.game.user, isAtBottom: true };
    if (isFirstRender) {
      this.element = this.#buildElement();
      this.#insertElement(this.element);
    }
    this.rendered = true;
    if (isFirstRender) await this._onFirstRender(context, renderOptions);
    await this._onRender(context, renderOptions);
    for (const name of ["ApplicationV2", "HandlebarsApplication", "AbstractSidebarTab", "ChatLog"]) {
      globalThis.Hooks.callAll(`render${name}`, this, this.element, context, renderOptions);
    }
    return this;
  }

  #buildElement() {
    const parts = "<div class=\"chat-scroll\"><ol class=\"chat-log plain\"></ol></div>"
      + "<div class=\"chat-form\"><button type=\"button\" class=\"jump-to-bottom\" data-action=\"jumpToBottom\" hidden>"
      + "<i class=\"fa-solid fa-down\"></i></button></div>";
    if (this.isPopout) {
      const app = document.createElement("div");
      app.id = this.id;
      app.classList.add("application", "sidebar-popout", "chat-popout", "flexcol");
      app.innerHTML = `<header class="window-header"><h1 class="window-title">Chat Log</h1></header>`
        + `<section class="window-content">${parts}</section>`;
      return app;
    }
    const section = document.createElement("section");
    section.id = "chat";
    section.classList.add("tab", "sidebar-tab", "chat-sidebar", "flexcol");
    if (this.active) section.classList.add("active");
    section.dataset.tab = "chat";
    section.dataset.group = "primary";
    section.innerHTML = parts;
    return section;
  }

  #insertElement(element) {
    if (this.isPopout) document.body.append(element);
    else document.getElementById("sidebar-content").prepend(element);
  }

  async _onFirstRender() {
    if (this.isPopout) globalThis.ui.chat._toggleNotifications();
    else this.#renderNotifications();
    await this.renderBatch(globalThis.CONFIG.ChatMessage.batchSize);
  }

  async _onRender() {
    this._toggleNotifications();
  }

  _onActivate() {
    this.element?.classList.add("active");
    this._toggleNotifications();
  }

  _onDeactivate() {
    this.element?.classList.remove("active");
    this._toggleNotifications();
  }

  /** Like templates/sidebar/tabs/chat/notifications.hbs: notifications, input, controls. */
  #renderNotifications() {
    const right = document.getElementById("ui-right-column-1") ?? document.body;
    const user = globalThis.game.user;
    const v14 = globalThis.game.release.generation >= 14;
    const i18n = globalThis.game.i18n;
    let privacy;
    if (v14) {
      const current = globalThis.game.settings.get("core", "messageMode");
      privacy = Object.entries(globalThis.CONFIG.ChatMessage.modes).map(([mode, { label }]) => `<button type="button" `
        + `class="ui-control icon" data-action="messageMode" data-mode="${mode}" aria-pressed="${mode === current}" `
        + `aria-label="${i18n.localize(label)}">${i18n.localize(label)}</button>`).join("");
    } else {
      const rollMode = globalThis.game.settings.get("core", "rollMode");
      privacy = Object.entries(globalThis.CONFIG.Dice.rollModes).map(([mode, { label }]) => `<button type="button" `
        + `class="ui-control icon" data-action="rollMode" data-roll-mode="${mode}" aria-pressed="${mode === rollMode}" `
        + `aria-label="${i18n.localize(label)}">${i18n.localize(label)}</button>`).join("");
    }
    const privacyId = v14 ? "message-modes" : "roll-privacy";
    const inputHtml = v14
      ? "<prose-mirror id=\"chat-message\" class=\"chat-input\" name=\"content\"></prose-mirror>"
      : "<textarea id=\"chat-message\" class=\"chat-input\" name=\"content\" autocomplete=\"off\"></textarea>";
    const gmControls = user?.isGM
      ? "<div class=\"control-buttons\"><button type=\"button\" class=\"ui-control icon fa-solid fa-floppy-disk\" data-action=\"export\"></button>"
        + "<button type=\"button\" class=\"ui-control icon fa-solid fa-trash\" data-action=\"flush\"></button></div>"
      : "";
    const template = document.createElement("template");
    template.innerHTML = "<div id=\"chat-notifications\"><ol class=\"chat-log plain overflow\"></ol></div>"
      + inputHtml
      + `<div id="chat-controls"><div id="${privacyId}" class="flexrow">${privacy}</div>${gmControls}</div>`;
    const [notifications, input, controls] = template.content.children;
    right.append(notifications);
    notifications.append(input, controls);
    this._toggleNotifications();
  }

  /** v13/v14 `ChatLog#_shouldShowNotifications`, without the camera dock. */
  _shouldShowNotifications({ closing = false } = {}) {
    const { chatNotifications, uiScale } = globalThis.game.settings.get("core", "uiConfig");
    if (chatNotifications === "pip" || this.options.stream) return false;
    if (globalThis.ui.sidebar.expanded && globalThis.ui.chat.active) return false;
    if (globalThis.ui.chat.popout?.rendered && (!this.isPopout || !closing)) return false;
    const viewportWidth = window.innerWidth / uiScale;
    const spaceRequired = 1024 + (globalThis.ui.sidebar.expanded * 300);
    return viewportWidth >= spaceRequired;
  }

  /** v13/v14 `ChatLog#_toggleNotifications`: move the chat input and fire `renderChatInput`. */
  _toggleNotifications({ closing = false } = {}) {
    const chat = globalThis.ui.chat;
    if (chat.popout?.rendered && !this.isPopout) return;
    const notifications = document.getElementById("chat-notifications");
    const inputElement = document.getElementById("chat-message");
    const chatControls = document.getElementById("chat-controls");
    const v14 = globalThis.game.release.generation >= 14;
    const privacySelector = v14 ? "#message-modes" : "#roll-privacy";
    const privacyButtons = document.querySelector(privacySelector);
    if (!notifications || !inputElement || !chatControls) return;
    const log = notifications.querySelector(".chat-log");
    const embedInput = !this._shouldShowNotifications({ closing });
    log.hidden = embedInput;
    privacyButtons.classList.toggle("vertical", !embedInput);
    const previousParent = inputElement.parentElement;
    if (globalThis.game.user.isGM) chatControls.querySelector(".control-buttons").hidden = !embedInput;
    if (embedInput) {
      const target = chat.popout?.rendered && !closing ? chat.popout : chat;
      target.element.querySelector(".chat-form").append(chatControls, inputElement);
    } else notifications.append(inputElement, chatControls);
    globalThis.Hooks.callAll("renderChatInput", this, {
      "#chat-message": inputElement,
      "#chat-controls": chatControls,
      [privacySelector]: privacyButtons,
    }, { previousParent });
  }

  async renderBatch(size) {
    const log = this.element.querySelector(".chat-log");
    const messages = globalThis.game.messages.contents.slice(-size);
    for (const message of messages) {
      if (!message.visible) continue;
      message.logged = true;
      log.append(await message.renderHTML());
    }
  }

  async postOne(message, { before, notify = false } = {}) {
    if (!this.rendered || !message.visible) return;
    message.logged = true;
    const log = this.element.querySelector(".chat-log");
    const html = await message.renderHTML();
    const existing = before ? this.element.querySelector(`.message[data-message-id="${before}"]`) : null;
    if (existing) existing.insertAdjacentElement("beforebegin", html);
    else log.append(html);
    this.scrollBottom();
    if (notify) this.notify(message, { newMessage: true });
    await this.popout?.postOne(message, { before, notify: false });
  }

  notify(message, { newMessage = false } = {}) {
    if (!this.rendered || this.isPopout) return;
    if (!(newMessage && this._shouldShowNotifications())) return;
    const log = document.querySelector("#chat-notifications .chat-log");
    message.renderHTML({ canDelete: false, canClose: true }).then((card) => {
      log?.append(card);
      setTimeout(() => card.remove(), this.constructor.NOTIFY_DURATION);
    });
  }

  async updateMessage(message) {
    const li = this.element?.querySelector(`.message[data-message-id="${message.id}"]`);
    if (li) li.replaceWith(await message.renderHTML());
    await this.popout?.updateMessage(message);
  }

  async deleteMessage(messageId) {
    this.element?.querySelector(`.message[data-message-id="${messageId}"]`)?.remove();
    await this.popout?.deleteMessage(messageId);
  }

  scrollBottom() {
    const scroll = this.element?.querySelector(".chat-scroll");
    if (scroll) scroll.scrollTop = 0x7fffffbf;
  }

  /** AbstractSidebarTab#renderPopout: open (or focus) the chat popout. */
  async renderPopout() {
    if (this.isPopout) return this;
    this.popout ??= new this.constructor({ isPopout: true, parent: this });
    if (!this.popout.rendered) await this.popout.render({ force: true });
    return this.popout;
  }

  /** ApplicationV2#close; a closing popout hands the chat input back first. */
  async close() {
    if (!this.rendered) return this;
    if (this.isPopout) this._toggleNotifications({ closing: true });
    this.element.remove();
    this.rendered = false;
    globalThis.Hooks.callAll("closeChatLog", this, this.element);
    return this;
  }
}
