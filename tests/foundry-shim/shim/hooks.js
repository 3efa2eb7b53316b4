// Foundry's Hooks (client/helpers/hooks.mjs in v13 and v14;
// https://foundryvtt.com/api/v14/classes/foundry.helpers.Hooks.html and
// https://foundryvtt.com/api/v13/classes/foundry.helpers.Hooks.html, both read (v13 as the copy
// at foundryvtt.com/api/, which does not show its version): `events`, `on`
// returning an id, `once`, `off` by id or function, `call` stopping at an explicit false,
// `callAll` calling every function; `onError` is on the pages, its options are not confirmed):
// on, once,
// off, call, callAll and onError. As in Foundry, an exception thrown by a hooked function is
// caught and logged, not rethrown; the shim also records it for the tests, since Foundry's
// own swallowing would otherwise hide module bugs from the page's error recorder.

export class Hooks {
  static #events = {};
  static #ids = new Map();
  static #id = 1;

  /** A copy of the registered events, by hook name. */
  static get events() {
    return Object.fromEntries(Object.entries(this.#events).map(([k, v]) => [k, [...v]]));
  }

  /**
   * @param {string} hook
   * @param {Function} fn
   * @param {{once?: boolean}} [options]
   * @returns {number} an id that `off` accepts
   */
  static on(hook, fn, { once = false } = {}) {
    if (typeof fn !== "function") throw new Error(`The hooked function for '${hook}' is not a function`);
    const id = this.#id++;
    this.#events[hook] ??= [];
    const entry = { hook, id, fn, once };
    this.#events[hook].push(entry);
    this.#ids.set(id, entry);
    return id;
  }

  static once(hook, fn) {
    return this.on(hook, fn, { once: true });
  }

  /** @param {string} hook @param {Function|number} fn the function or the id `on` returned */
  static off(hook, fn) {
    let entry;
    if (typeof fn === "number") {
      entry = this.#ids.get(fn);
      if (!entry) return;
      this.#ids.delete(entry.id);
      hook = entry.hook;
      this.#events[hook] = (this.#events[hook] ?? []).filter((e) => e !== entry);
      return;
    }
    const list = this.#events[hook];
    if (!list) return;
    entry = list.find((e) => e.fn === fn);
    if (!entry) return;
    this.#ids.delete(entry.id);
    this.#events[hook] = list.filter((e) => e !== entry);
  }

  /** Call every function of `hook`; never stops early. */
  static callAll(hook, ...args) {
    if (globalThis.CONFIG?.debug?.hooks) console.log(`DEBUG | Calling ${hook} hook with args:`, args);
    for (const entry of [...(this.#events[hook] ?? [])]) this.#call(entry, args);
    return true;
  }

  /** Call the functions of `hook` in order until one returns `false`. */
  static call(hook, ...args) {
    if (globalThis.CONFIG?.debug?.hooks) console.log(`DEBUG | Calling ${hook} hook with args:`, args);
    for (const entry of [...(this.#events[hook] ?? [])]) {
      if (this.#call(entry, args) === false) return false;
    }
    return true;
  }

  static #call(entry, args) {
    const { hook, id, fn, once } = entry;
    if (once) this.off(hook, id);
    try {
      return fn(...args);
    } catch (err) {
      const msg = `Error thrown in hooked function '${fn?.name ?? ""}' for hook '${hook}'`;
      console.warn(`Foundry VTT | ${msg}`);
      if (hook !== "error") this.onError("Hooks.#call", err, { msg, hook, fn, log: "error" });
    }
    return undefined;
  }

  /**
   * Foundry's central error reporting: fires the `error` hook, optionally logs and notifies.
   * @param {string} location
   * @param {Error} error
   * @param {{msg?: string, notify?: string|null, log?: string|null}} [options]
   */
  static onError(location, error, { msg = "", notify = null, log = null, ...data } = {}) {
    if (!(error instanceof Error)) return;
    if (msg) error.message = `${msg}. ${error.message}`;
    globalThis.__shimRecorder?.errors.push({
      source: `Hooks.onError(${location})`,
      message: error.message,
      location: data.hook ?? null,
      stack: error.stack ? String(error.stack) : null,
    });
    this.callAll("error", location, error, data);
    if (log) console[log]?.(error);
    if (notify) globalThis.ui?.notifications?.[notify]?.(msg || error.message);
  }
}
