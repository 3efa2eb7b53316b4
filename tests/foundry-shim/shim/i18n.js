// `game.i18n` (Foundry's Localization:
// https://foundryvtt.com/api/v14/classes/foundry.helpers.Localization.html and
// https://foundryvtt.com/api/v13/classes/foundry.helpers.Localization.html, neither read; the
// class, `lang`, `translations` and `initialize` are confirmed by foundry-vtt-types 13.346,
// localization.d.mts, read): loads the `languages` files of active modules for the
// current language between the `init` and `i18nInit` hooks, expands dotted keys, and answers
// `localize` (the key itself when missing, as in Foundry) and `format` ({name} placeholders).
import { expandObject, getProperty, mergeObject } from "./utils.js";

/** The few core strings the stand-in UI shows (Foundry ships thousands in lang/en.json). */
const CORE_TRANSLATIONS = {
  CHAT: {
    Title: "Chat Log",
    RollPublic: "Public Roll",
    RollPrivate: "Private GM Roll",
    RollBlind: "Blind GM Roll",
    RollSelf: "Self Roll",
    RollIC: "In Character",
    Export: "Export Chat Log",
    Flush: "Clear Chat Log",
  },
};

export class Localization {
  lang = "en";
  translations = {};
  #initialized = false;

  /**
   * Load the translation files of every active module.
   * @param {Iterable<{id: string, active: boolean, languages?: {lang: string, path: string}[]}>} modules
   */
  async initialize(modules) {
    mergeObject(this.translations, CORE_TRANSLATIONS, { inplace: true });
    for (const module of modules) {
      if (!module.active) continue;
      for (const language of module.languages ?? []) {
        if (language.lang !== this.lang) continue;
        const url = `/modules/${module.id}/${language.path}`;
        const response = await fetch(url);
        if (!response.ok) {
          console.error(`Foundry VTT | Unable to load language file ${url}: ${response.status}`);
          continue;
        }
        const json = await response.json();
        mergeObject(this.translations, expandObject(json), { inplace: true });
      }
    }
    this.#initialized = true;
  }

  get initialized() {
    return this.#initialized;
  }

  has(stringId) {
    return typeof getProperty(this.translations, stringId) === "string";
  }

  localize(stringId) {
    const value = getProperty(this.translations, stringId);
    return typeof value === "string" ? value : stringId;
  }

  format(stringId, data = {}) {
    const str = this.localize(stringId);
    return str.replace(/{[^}]+}/g, (k) => data[k.slice(1, -1)]);
  }
}
