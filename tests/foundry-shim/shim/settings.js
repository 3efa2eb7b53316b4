// `game.settings` (Foundry's ClientSettings:
// https://foundryvtt.com/api/v14/classes/foundry.helpers.ClientSettings.html and
// https://foundryvtt.com/api/v13/classes/foundry.helpers.ClientSettings.html, neither read; the
// class and its register/get/set are confirmed by foundry-vtt-types 13.346, whose
// client-settings.d.mts was read; the storage and permission details are as modules report them,
// unconfirmed): register/get/set with `client` and `world`
// scopes. Client settings live in localStorage under "<namespace>.<key>" as JSON, exactly where
// Foundry keeps them; world settings live in the Foundry server's database, here a
// localStorage key with a shim prefix so they too survive a page reload. As in Foundry,
// reading an unregistered setting throws, values are cast to the registered type, only a GM
// may change a world setting, and `onChange(value, options)` runs after a set that changed the
// stored value.
import { deepClone } from "./utils.js";

const WORLD_PREFIX = "__shim_world_setting__.";

export class ClientSettings {
  /** @type {Map<string, object>} registered settings by "namespace.key" */
  settings = new Map();

  /** @type {Map<string, object>} registered menus by "namespace.key" */
  menus = new Map();

  /** @param {number} generation Foundry major version (v13 adds the `user` scope) */
  constructor(generation) {
    this.generation = generation;
  }

  register(namespace, key, data) {
    if (!namespace || !key) throw new Error("You must specify both namespace and key portions of the setting");
    const scopes = this.generation >= 13 ? ["world", "client", "user"] : ["world", "client"];
    const scope = data.scope ?? "client";
    if (!scopes.includes(scope)) throw new Error(`Invalid setting scope "${scope}" for setting "${namespace}.${key}"`);
    if (data.type !== undefined && data.type !== null && typeof data.type !== "function" && typeof data.type !== "object") {
      throw new Error(`The type of setting "${namespace}.${key}" must be a constructor or a DataField`);
    }
    if (data.onChange !== undefined && typeof data.onChange !== "function") {
      throw new Error(`The onChange of setting "${namespace}.${key}" must be a function`);
    }
    const id = `${namespace}.${key}`;
    this.settings.set(id, { config: true, ...data, key, namespace, id, scope });
  }

  registerMenu(namespace, key, data) {
    this.menus.set(`${namespace}.${key}`, { ...data, key, namespace });
  }

  get(namespace, key) {
    const setting = this.#assertRegistered(namespace, key);
    const stored = this.#storage(setting).getItem(this.#storageKey(setting));
    if (stored === null) return deepClone(setting.default);
    let value;
    try {
      value = JSON.parse(stored);
    } catch {
      value = stored;
    }
    return castValue(setting, value);
  }

  async set(namespace, key, value, options = {}) {
    const setting = this.#assertRegistered(namespace, key);
    if (setting.scope === "world" && !globalThis.game?.user?.isGM) {
      throw new Error(`User ${globalThis.game?.user?.name} lacks permission to update world setting ${setting.id}`);
    }
    const cast = castValue(setting, value);
    const json = JSON.stringify(cast);
    const storage = this.#storage(setting);
    const storageKey = this.#storageKey(setting);
    if (storage.getItem(storageKey) === json) return cast;
    storage.setItem(storageKey, json);
    setting.onChange?.(cast, options);
    return cast;
  }

  #assertRegistered(namespace, key) {
    const id = `${namespace}.${key}`;
    const setting = this.settings.get(id);
    if (!setting) throw new Error(`"${id}" is not a registered game setting`);
    return setting;
  }

  #storage(setting) {
    return globalThis.localStorage;
  }

  #storageKey(setting) {
    return setting.scope === "client" ? setting.id : `${WORLD_PREFIX}${setting.id}`;
  }
}

function castValue(setting, value) {
  if (value === null || value === undefined) return value;
  switch (setting.type) {
    case String: return String(value);
    case Number: return Number(value);
    case Boolean: return Boolean(value);
    default: return value;
  }
}
