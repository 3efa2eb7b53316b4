// The parts of `foundry.utils` a module may reasonably use, with Foundry's signatures and
// semantics (v12/v13 `common/utils/helpers.mjs`;
// https://foundryvtt.com/api/v14/modules/foundry.utils.html and
// https://foundryvtt.com/api/v13/modules/foundry.utils.html, neither read: the signatures are
// the long-standing ones modules use), plus the Collection class (a Map with
// `contents`) that Foundry's document collections and `game.modules` are built on.

/** A random alphanumeric id, 16 characters by default, like Foundry document ids. */
export function randomID(length = 16) {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const values = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(values, (v) => chars[v % chars.length]).join("");
}

export function getType(variable) {
  if (variable === null) return "null";
  if (variable === undefined) return "undefined";
  if (Array.isArray(variable)) return "Array";
  if (variable instanceof Map) return "Map";
  if (variable instanceof Set) return "Set";
  if (typeof variable === "object") {
    const proto = Object.getPrototypeOf(variable);
    return (proto === Object.prototype || proto === null) ? "Object" : (variable.constructor?.name ?? "Object");
  }
  return variable.constructor?.name ?? typeof variable;
}

export function isEmpty(value) {
  const t = getType(value);
  switch (t) {
    case "undefined": return true;
    case "null": return true;
    case "Array": return !value.length;
    case "Object": return !Object.keys(value).length;
    case "Set": case "Map": return !value.size;
    default: return false;
  }
}

export function deepClone(original, { strict = false } = {}) {
  if (typeof original !== "object" || original === null) return original;
  if (Array.isArray(original)) return original.map((o) => deepClone(o, { strict }));
  if (original instanceof Date) return new Date(original);
  if (getType(original) !== "Object") {
    if (strict) throw new Error("deepClone cannot clone advanced objects");
    return original;
  }
  const clone = {};
  for (const [k, v] of Object.entries(original)) clone[k] = deepClone(v, { strict });
  return clone;
}

/** JSON round trip, as Foundry's `duplicate`. */
export function duplicate(original) {
  return JSON.parse(JSON.stringify(original));
}

export function getProperty(object, key) {
  if (!key || object === null || object === undefined) return undefined;
  if (key in Object(object)) return object[key];
  let target = object;
  for (const part of String(key).split(".")) {
    if (target === null || target === undefined || typeof target !== "object") return undefined;
    target = target[part];
  }
  return target;
}

export function setProperty(object, key, value) {
  let target = object;
  let changed = false;
  const parts = String(key).split(".");
  const last = parts.pop();
  for (const part of parts) {
    if (!(part in target) || typeof target[part] !== "object" || target[part] === null) target[part] = {};
    target = target[part];
  }
  if (target[last] !== value) {
    changed = true;
    target[last] = value;
  }
  return changed;
}

export function hasProperty(object, key) {
  if (!key || object === null || object === undefined) return false;
  if (key in Object(object)) return true;
  let target = object;
  for (const part of String(key).split(".")) {
    if (target === null || typeof target !== "object" || !(part in target)) return false;
    target = target[part];
  }
  return true;
}

/** Expand an object with dotted keys into a nested object, as Foundry's `expandObject`. */
export function expandObject(obj) {
  function expand(value, depth) {
    if (depth > 32) throw new Error("Maximum object expansion depth exceeded");
    if (!value || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => expand(v, depth + 1));
    const expanded = {};
    for (const [k, v] of Object.entries(value)) setProperty(expanded, k, expand(v, depth + 1));
    return expanded;
  }
  return expand(obj, 0);
}

export function flattenObject(obj, depth = 0) {
  const flat = {};
  for (const [k, v] of Object.entries(obj)) {
    if (getType(v) === "Object" && !isEmpty(v) && depth < 100) {
      for (const [ik, iv] of Object.entries(flattenObject(v, depth + 1))) flat[`${k}.${ik}`] = iv;
    } else flat[k] = v;
  }
  return flat;
}

/**
 * Foundry's `mergeObject(original, other, options)`: recursive merge, dotted keys expanded,
 * `-=key` deletions, returns the merged object (in place unless `inplace: false`).
 */
export function mergeObject(original, other = {}, {
  insertKeys = true, insertValues = true, overwrite = true, recursive = true, inplace = true,
  enforceTypes = false, performDeletions = false,
} = {}, _d = 0) {
  other = other || {};
  if (!(original instanceof Object) || !(other instanceof Object)) {
    throw new Error("One of original or other are not Objects!");
  }
  const options = { insertKeys, insertValues, overwrite, recursive, inplace, enforceTypes, performDeletions };
  if (_d === 0) {
    if (Object.keys(original).some((k) => /\./.test(k))) original = expandObject(original);
    if (Object.keys(other).some((k) => /\./.test(k))) other = expandObject(other);
    if (!inplace) original = deepClone(original);
  }
  for (const [k, v] of Object.entries(other)) {
    if (performDeletions && k.startsWith("-=")) {
      delete original[k.slice(2)];
      continue;
    }
    const exists = k in original;
    const tv = getType(v);
    if (exists && tv === "Object" && getType(original[k]) === "Object" && recursive) {
      mergeObject(original[k], v, options, _d + 1);
    } else if (exists) {
      if (overwrite) original[k] = deepClone(v);
    } else {
      const isObject = tv === "Object";
      if ((isObject && insertKeys) || (!isObject && insertValues) || (isObject && insertValues && _d > 0)) {
        original[k] = deepClone(v);
      } else if (isObject && insertKeys === false && insertValues) {
        original[k] = deepClone(v);
      }
    }
  }
  return original;
}

export function isNewerVersion(v1, v0) {
  const a = String(v1).split(".").map(Number);
  const b = String(v0).split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return false;
}

export function debounce(callback, delay) {
  let timeoutId;
  return function debounced(...args) {
    clearTimeout(timeoutId);
    timeoutId = setTimeout(() => callback.apply(this, args), delay);
  };
}

export function timeSince(timeStamp) {
  const seconds = Math.max(0, Math.floor((Date.now() - new Date(timeStamp).getTime()) / 1000));
  if (seconds < 60) return "Now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ago`;
  return `${Math.floor(minutes / 60)}h ago`;
}

/** v13 `foundry.utils.parseHTML`: one element, or an array when the HTML has several roots. */
export function parseHTML(htmlString) {
  const div = document.createElement("div");
  div.innerHTML = htmlString;
  const children = Array.from(div.children);
  return children.length > 1 ? children : children[0];
}

/** A Map with Foundry's Collection conveniences. */
export class Collection extends Map {
  get contents() {
    return Array.from(this.values());
  }

  find(condition) {
    for (const v of this.values()) if (condition(v)) return v;
    return undefined;
  }

  filter(condition) {
    return this.contents.filter(condition);
  }

  map(transformer) {
    return this.contents.map(transformer);
  }

  some(condition) {
    return this.contents.some(condition);
  }

  reduce(reducer, initial) {
    return this.contents.reduce(reducer, initial);
  }

  forEach(fn) {
    for (const v of this.values()) fn(v);
  }

  getName(name, { strict = false } = {}) {
    const entry = this.find((e) => e.name === name);
    if (strict && entry === undefined) throw new Error(`An entry with name ${name} does not exist in the collection`);
    return entry ?? undefined;
  }

  get(key, { strict = false } = {}) {
    const entry = super.get(key);
    if (strict && entry === undefined) throw new Error(`The key ${key} does not exist in the ${this.constructor.name} Collection`);
    return entry;
  }
}
