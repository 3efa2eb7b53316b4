// The v12 sidebar and chat tab (Application v1). Rendering the ChatLog builds a new
// `section#chat` like templates/sidebar/chat-log.html (ol#chat-log, #chat-controls,
// form#chat-form > textarea#chat-message), replaces the previous element with it as Foundry's
// `Application#_replaceHTML` does for sidebar tabs, posts the messages, and then calls
// `renderApplication`, `renderSidebarTab` and `renderChatLog` with (app, jQuery, data).

const TABS = ["chat", "combat", "settings"];

function $(element) {
  return globalThis.jQuery(element);
}

export class SidebarV12 {
  activeTab = "chat";
  _collapsed = false;

  /** Build the sidebar frame: tab navigation and an empty section per tab. */
  render(parent) {
    const sidebar = document.createElement("div");
    sidebar.id = "sidebar";
    sidebar.classList.add("app");
    const nav = document.createElement("nav");
    nav.id = "sidebar-tabs";
    nav.classList.add("tabs");
    for (const tab of TABS) {
      const a = document.createElement("a");
      a.classList.add("item");
      a.dataset.tab = tab;
      a.textContent = tab;
      if (tab === this.activeTab) a.classList.add("active");
      nav.append(a);
    }
    sidebar.append(nav);
    for (const tab of TABS.filter((t) => t !== "chat")) {
      const section = document.createElement("section");
      section.id = tab;
      section.classList.add("sidebar-tab", "directory", "flexcol");
      section.dataset.tab = tab;
      sidebar.append(section);
    }
    parent.append(sidebar);
    this.element = sidebar;
  }

  get collapsed() {
    return this._collapsed;
  }

  activateTab(tabName) {
    this.activeTab = tabName;
    for (const a of this.element.querySelectorAll("#sidebar-tabs .item")) a.classList.toggle("active", a.dataset.tab === tabName);
    for (const s of this.element.querySelectorAll(".sidebar-tab")) s.classList.toggle("active", s.dataset.tab === tabName);
    globalThis.Hooks.callAll("changeSidebarTab", globalThis.ui[tabName] ?? { tabName });
  }

  collapse() {
    this._collapsed = true;
    this.element.classList.add("collapsed");
    globalThis.Hooks.callAll("collapseSidebar", this, true);
  }

  expand() {
    this._collapsed = false;
    this.element.classList.remove("collapsed");
    globalThis.Hooks.callAll("collapseSidebar", this, false);
  }
}

export class ChatLogV12 {
  options = { id: "chat", popOut: false, stream: false };
  _element = null;
  rendered = false;

  get id() {
    return "chat";
  }

  get tabName() {
    return "chat";
  }

  get popOut() {
    return false;
  }

  get element() {
    return $(this._element);
  }

  get collection() {
    return globalThis.game.messages;
  }

  /**
   * Render (or re-render) the chat tab. Like Application v1, returns the app at once and
   * renders asynchronously; `_renderPromise` is there for the shim's own sequencing.
   */
  render(force = false) {
    this._renderPromise = this.#render(force).catch((err) => {
      globalThis.Hooks.onError("Application#render", err, { log: "error" });
    });
    return this;
  }

  async #render(_force) {
    const data = {
      user: globalThis.game.user,
      rollMode: globalThis.game.settings.get("core", "rollMode"),
      rollModes: globalThis.CONFIG.Dice.rollModes,
      isStream: false,
    };
    const section = this.#buildSection(data);
    const existing = this._element ?? document.getElementById("chat");
    if (existing?.isConnected) existing.replaceWith(section);
    else globalThis.ui.sidebar.element.querySelector("#sidebar-tabs").after(section);
    this._element = section;
    this.rendered = true;
    const log = section.querySelector("#chat-log");
    const batch = globalThis.game.messages.contents.slice(-globalThis.CONFIG.ChatMessage.batchSize);
    for (const message of batch) {
      if (!message.visible) continue;
      log.append((await message.getHTML())[0]);
      message.logged = true;
    }
    const html = $(section);
    for (const name of ["Application", "SidebarTab", "ChatLog"]) globalThis.Hooks.callAll(`render${name}`, this, html, data);
  }

  #buildSection(data) {
    const section = document.createElement("section");
    section.id = "chat";
    section.classList.add("sidebar-tab", "chat-sidebar", "directory", "flexcol");
    if (globalThis.ui.sidebar.activeTab === "chat") section.classList.add("active");
    section.dataset.tab = "chat";
    const modes = Object.entries(data.rollModes)
      .map(([mode, label]) => `<option value="${mode}"${mode === data.rollMode ? " selected" : ""}>${globalThis.game.i18n.localize(label)}</option>`)
      .join("");
    const gmButtons = data.user?.isGM
      ? "<a class=\"button chat-flush\" data-tooltip=\"CHAT.Flush\"><i class=\"fas fa-trash\"></i></a>"
      : "";
    section.innerHTML = `
      <ol id="chat-log"></ol>
      <div id="chat-controls" class="flexrow">
        <div class="chat-control-icon"><i class="fas fa-dice-d20"></i></div>
        <select class="roll-type-select" name="rollMode">${modes}</select>
        <div class="control-buttons">
          <a class="button export-log" data-tooltip="CHAT.Export"><i class="fas fa-save"></i></a>
          ${gmButtons}
        </div>
      </div>
      <form id="chat-form">
        <textarea id="chat-message" class="chat-input" name="content" autocomplete="off"></textarea>
      </form>`;
    return section;
  }

  async postOne(message, { before, notify = false } = {}) {
    if (!this.rendered || !message.visible) return;
    message.logged = true;
    const html = (await message.getHTML())[0];
    const log = this._element.querySelector("#chat-log");
    const existing = before ? log.querySelector(`.message[data-message-id="${before}"]`) : null;
    if (existing) existing.before(html);
    else log.append(html);
    log.scrollTop = log.scrollHeight;
  }

  async updateMessage(message) {
    const li = this._element?.querySelector(`.message[data-message-id="${message.id}"]`);
    if (li) li.replaceWith((await message.getHTML())[0]);
  }

  async deleteMessage(messageId) {
    this._element?.querySelector(`.message[data-message-id="${messageId}"]`)?.remove();
  }

  scrollBottom() {
    const log = this._element?.querySelector("#chat-log");
    if (log) log.scrollTop = log.scrollHeight;
  }
}
