// v14's chat input: `<prose-mirror id="chat-message">`, a form-associated custom element that
// hosts a ProseMirror rich-text editor; there is no <textarea> (modules that looked for
// `textarea.chat-input` or `#chat-message.value` on a textarea broke on v14).
// https://foundryvtt.com/api/v14/classes/foundry.applications.elements.HTMLProseMirrorElement.html
// (v13 has the same element, https://foundryvtt.com/api/v13/classes/foundry.applications.elements.HTMLProseMirrorElement.html,
// not read, for journal text; its chat input is a <textarea>, so the v13 page does not define it)
// (tagName "prose-mirror", formAssociated, an underlying `_value`, `open`/`close`/`save`/
// `plugins` events). The editor here is a contenteditable `.editor-content` div holding HTML
// paragraphs, which is what the chat input submits (rich text, not plain text). ProseMirror's
// own DOM inside the element and its menu are not modelled.

export class HTMLProseMirrorElement extends HTMLElement {
  static tagName = "prose-mirror";
  static formAssociated = true;

  /** @type {HTMLDivElement|null} */
  #editor = null;

  connectedCallback() {
    if (this.#editor) return;
    this.#editor = document.createElement("div");
    this.#editor.classList.add("editor-content", "ProseMirror");
    this.#editor.contentEditable = "true";
    this.#editor.innerHTML = "<p></p>";
    this.append(this.#editor);
    this.dispatchEvent(new Event("open", { bubbles: true }));
  }

  /** The editor's HTML, as the form submits it. */
  get value() {
    return this.#editor?.innerHTML ?? "";
  }

  set value(html) {
    if (this.#editor) this.#editor.innerHTML = String(html ?? "");
  }

  get disabled() {
    return this.hasAttribute("disabled");
  }

  get editable() {
    return !this.disabled;
  }
}

/** Registers the element once per page. */
export function defineProseMirrorElement() {
  if (!customElements.get(HTMLProseMirrorElement.tagName)) {
    customElements.define(HTMLProseMirrorElement.tagName, HTMLProseMirrorElement);
  }
}
