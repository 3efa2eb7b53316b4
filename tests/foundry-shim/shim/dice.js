// Foundry's dice (`Roll` and its terms) for the formulas a table uses: NdM and d%, the
// kh/kl/dh/dl (and k/d) modifiers, numeric constants, + - * / % with precedence, parentheses
// and [flavor] annotations. Like Foundry: a formula that does not parse throws from the
// constructor; an unresolved word (a StringTerm) throws from `evaluate()`; `evaluate()` is
// async, returns the Roll and can run once; `total`, `formula`, `dice` (die terms with `faces`
// and `results: [{result, active}]`) and `toMessage()` (a ChatMessage with `rolls`) behave as
// in v13/v14. Die faces come from `CONFIG.Dice.randomUniform`, or from a queue tests fill;
// a test can also make the next evaluations wait until it releases them (`rollHold`).
//
// Interactive dice: `evaluate({allowInteractive = true})`. When the user's `core.diceConfiguration`
// fulfils a die manually and the evaluation allows interaction, Foundry opens its RollResolver
// (class RollResolver in https://foundryvtt.com/api/v14/modules/foundry.applications.dice.html) and the
// roll waits until the user types the faces in. The shim opens a `.roll-resolver` dialog and
// waits the same way (tests fill it with `window.__shim.resolveManualDice`).
//
// v14 (https://foundryvtt.com/api/v14/classes/foundry.dice.Roll.html: its constructor
// `(formula = "", data = {}, options = {})` read; the part with `toMessage` was not, so its
// option names are taken from modules ported to v14; v13:
// https://foundryvtt.com/api/v13/classes/foundry.dice.Roll.html, not read, `toMessage(messageData,
// {rollMode, create})` as modules on v13 call it, unconfirmed by the page):
// `new Roll(formula, data = {}, options = {})` as in v13; `toMessage(messageData = {},
// {messageMode, rollMode, create = true})` where `messageMode` is a key of
// CONFIG.ChatMessage.modes and defaults to the user's `core.messageMode`; `rollMode` is
// deprecated since v14 (until v16), mapped to a mode with a warning.

import { mapLegacyRollMode } from "./chat-message.js";

/** Values tests queue for the next dice (each is used if it fits the die). */
export const queuedDieResults = [];

/**
 * Test hook: rolls whose evaluation waits until a test releases it, standing for dice that
 * take their time (a slow hand, an animation, a network round trip). `armed` rolls from now
 * on wait in `evaluate()`, before any die is rolled; `waiting` lists them.
 */
export const rollHold = { armed: 0, waiting: [] };

export class RollTerm {
  options = {};

  get isDeterministic() {
    return true;
  }

  get flavor() {
    return this.options.flavor ?? "";
  }

  get formula() {
    const flavor = this.options.flavor ? `[${this.options.flavor}]` : "";
    return `${this.expression}${flavor}`;
  }

  get expression() {
    return "";
  }

  async evaluate() {
    this._evaluated = true;
    return this;
  }
}

export class NumericTerm extends RollTerm {
  constructor({ number, options = {} }) {
    super();
    this.number = Number(number);
    this.options = options;
  }

  get expression() {
    return String(this.number);
  }

  get total() {
    return this.number;
  }
}

export class OperatorTerm extends RollTerm {
  constructor({ operator }) {
    super();
    this.operator = operator;
  }

  get expression() {
    return this.operator;
  }

  get total() {
    return undefined;
  }
}

export class StringTerm extends RollTerm {
  constructor({ term, options = {} }) {
    super();
    this.term = term;
    this.options = options;
  }

  get expression() {
    return this.term;
  }

  get total() {
    return undefined;
  }

  get isDeterministic() {
    return false;
  }

  async evaluate() {
    throw new Error(`Unresolved StringTerm ${this.term} requested for evaluation`);
  }
}

export class DiceTerm extends RollTerm {
  static DENOMINATION = "";

  constructor({ number = 1, faces = 6, modifiers = [], results = [], options = {} }) {
    super();
    this.number = number;
    this.faces = faces;
    this.modifiers = modifiers;
    this.results = results;
    this.options = options;
    this._evaluated = false;
  }

  get denomination() {
    return this.constructor.DENOMINATION;
  }

  get expression() {
    return `${this.number}${this.denomination}${this.faces}${this.modifiers.join("")}`;
  }

  get isDeterministic() {
    return false;
  }

  get values() {
    return this.results.filter((r) => r.active).map((r) => r.result);
  }

  get total() {
    if (!this._evaluated) return undefined;
    return this.values.reduce((t, v) => t + v, 0);
  }

  async evaluate({ minimize = false, maximize = false } = {}) {
    if (this._evaluated) throw new Error(`The ${this.constructor.name} has already been evaluated and is now immutable`);
    if (!Number.isInteger(this.number) || this.number < 0) throw new Error(`Invalid number of dice: ${this.number}`);
    if (!Number.isInteger(this.faces) || this.faces < 1) throw new Error(`Invalid die faces: ${this.faces}`);
    for (let i = 0; i < this.number; i++) this.results.push({ result: this.roll({ minimize, maximize }), active: true });
    for (const modifier of this.modifiers) this.#applyModifier(modifier);
    this._evaluated = true;
    return this;
  }

  /** One die: `Math.ceil((1 - CONFIG.Dice.randomUniform()) * faces)`, as Foundry rolls it. */
  roll({ minimize = false, maximize = false } = {}) {
    if (minimize) return 1;
    if (maximize) return this.faces;
    const queued = queuedDieResults[0];
    if (Number.isInteger(queued) && queued >= 1 && queued <= this.faces) {
      queuedDieResults.shift();
      return queued;
    }
    const rand = globalThis.CONFIG?.Dice?.randomUniform?.() ?? Math.random();
    return Math.ceil((1 - rand) * this.faces);
  }

  #applyModifier(modifier) {
    const match = /^(kh|kl|dh|dl|k|d)(\d+)?$/i.exec(modifier);
    if (!match) throw new Error(`Unknown modifier ${modifier} for ${this.constructor.name}`);
    const command = match[1].toLowerCase();
    const n = match[2] === undefined ? 1 : Number(match[2]);
    const active = this.results.filter((r) => r.active);
    const ascending = [...active].sort((a, b) => a.result - b.result);
    let discard;
    switch (command) {
      case "k": case "kh": discard = ascending.slice(0, Math.max(0, ascending.length - n)); break;
      case "kl": discard = ascending.slice(Math.min(n, ascending.length)); break;
      case "d": case "dl": discard = ascending.slice(0, n); break;
      case "dh": discard = ascending.slice(Math.max(0, ascending.length - n)); break;
      default: discard = [];
    }
    for (const r of discard) {
      r.active = false;
      r.discarded = true;
    }
  }

  toJSON() {
    return {
      class: this.constructor.name,
      number: this.number,
      faces: this.faces,
      modifiers: this.modifiers,
      results: this.results.map((r) => ({ ...r })),
      options: this.options,
      evaluated: this._evaluated,
    };
  }
}

export class Die extends DiceTerm {
  static DENOMINATION = "d";
}

export class ParentheticalTerm extends RollTerm {
  constructor({ roll, options = {} }) {
    super();
    this.roll = roll;
    this.options = options;
  }

  get expression() {
    return `(${this.roll.formula})`;
  }

  get dice() {
    return this.roll.dice;
  }

  get total() {
    return this.roll.total;
  }

  get isDeterministic() {
    return this.roll.isDeterministic;
  }

  async evaluate(options = {}) {
    await this.roll.evaluate(options);
    this._evaluated = true;
    return this;
  }
}

/* -------------------------------------------- */
/*  Parsing                                     */
/* -------------------------------------------- */

const TOKEN_PATTERNS = [
  ["space", /^\s+/],
  ["flavor", /^\[([^\]]*)\]/],
  ["dice", /^(\d*)[dD](\d+|%)((?:(?:kh|kl|dh|dl|k|d)\d*)*)(?![A-Za-z])/],
  ["number", /^\d+(?:\.\d+)?(?![A-Za-z\d])/],
  ["operator", /^[-+*/%]/],
  ["open", /^\(/],
  ["close", /^\)/],
  ["word", /^[A-Za-z@_][\w.@]*/],
];

function syntaxError(formula, detail) {
  return new Error(`Unable to parse roll formula "${formula}": ${detail}`);
}

function tokenize(formula) {
  const tokens = [];
  let rest = formula;
  let position = 0;
  while (rest.length) {
    let matched = false;
    for (const [type, pattern] of TOKEN_PATTERNS) {
      const match = pattern.exec(rest);
      if (!match) continue;
      if (type !== "space") tokens.push({ type, match, position });
      rest = rest.slice(match[0].length);
      position += match[0].length;
      matched = true;
      break;
    }
    if (!matched) throw syntaxError(formula, `unexpected "${rest[0]}" at position ${position}`);
  }
  return tokens;
}

function diceFromToken(match) {
  const number = match[1] === "" ? 1 : Number(match[1]);
  const faces = match[2] === "%" ? 100 : Number(match[2]);
  const modifiers = match[3] ? match[3].match(/(kh|kl|dh|dl|k|d)\d*/gi) : [];
  return new Die({ number, faces, modifiers });
}

/** Parse tokens[start..] into a flat term list; stops at a closing parenthesis or the end. */
function parseSequence(formula, tokens, start, data) {
  const terms = [];
  let i = start;
  let expectOperand = true;
  while (i < tokens.length) {
    const token = tokens[i];
    if (token.type === "close") break;
    if (expectOperand) {
      if (token.type === "operator") {
        if (token.match[0] !== "-" && token.match[0] !== "+") {
          throw syntaxError(formula, `expected a term but found "${token.match[0]}"`);
        }
        terms.push(new OperatorTerm({ operator: token.match[0] }));
        i += 1;
        continue;
      }
      let term;
      if (token.type === "dice") term = diceFromToken(token.match);
      else if (token.type === "number") term = new NumericTerm({ number: token.match[0] });
      else if (token.type === "word") term = new StringTerm({ term: token.match[0] });
      else if (token.type === "open") {
        const inner = parseSequence(formula, tokens, i + 1, data);
        if (tokens[inner.next]?.type !== "close") throw syntaxError(formula, "missing closing parenthesis");
        if (!inner.terms.length) throw syntaxError(formula, "empty parentheses");
        const roll = new Roll(Roll.getFormula(inner.terms), data);
        term = new ParentheticalTerm({ roll });
        i = inner.next;
      } else throw syntaxError(formula, `unexpected "${token.match[0]}" at position ${token.position}`);
      i += 1;
      if (tokens[i]?.type === "flavor") {
        term.options.flavor = tokens[i].match[1];
        i += 1;
      }
      terms.push(term);
      expectOperand = false;
    } else {
      if (token.type !== "operator") {
        throw syntaxError(formula, `expected an operator but found "${token.match[0]}" at position ${token.position}`);
      }
      terms.push(new OperatorTerm({ operator: token.match[0] }));
      i += 1;
      expectOperand = true;
    }
  }
  if (expectOperand && terms.length) throw syntaxError(formula, "the formula ends with an operator");
  return { terms, next: i };
}

/** Compute the total of an evaluated flat term list, with * / % before + -. */
function computeTotal(terms) {
  const values = [];
  const operators = [];
  let sign = 1;
  let expectOperand = true;
  for (const term of terms) {
    if (term instanceof OperatorTerm) {
      if (expectOperand) sign = term.operator === "-" ? -sign : sign;
      else {
        operators.push(term.operator);
        expectOperand = true;
      }
      continue;
    }
    values.push(sign * Number(term.total));
    sign = 1;
    expectOperand = false;
  }
  const sums = [values[0]];
  const additive = [];
  operators.forEach((op, k) => {
    const rhs = values[k + 1];
    const last = sums.length - 1;
    if (op === "*") sums[last] *= rhs;
    else if (op === "/") sums[last] /= rhs;
    else if (op === "%") sums[last] %= rhs;
    else {
      additive.push(op);
      sums.push(rhs);
    }
  });
  return additive.reduce((total, op, k) => (op === "+" ? total + sums[k + 1] : total - sums[k + 1]), sums[0]);
}

/* -------------------------------------------- */
/*  Roll                                        */
/* -------------------------------------------- */

export class Roll {
  static CHAT_TEMPLATE = "templates/dice/roll.html";

  /**
   * @param {string} formula
   * @param {object} [data] values for @references
   * @param {object} [options]
   */
  constructor(formula, data = {}, options = {}) {
    this.data = data;
    this.options = options;
    this._evaluated = false;
    this._total = undefined;
    this.terms = this.constructor.parse(String(formula ?? ""), data);
    this._formula = this.constructor.getFormula(this.terms);
  }

  static create(formula, data = {}, options = {}) {
    return new this(formula, data, options);
  }

  /** Replace @path references with values from `data`; unknown ones are left in place. */
  static replaceFormulaData(formula, data) {
    return formula.replace(/@([a-z.0-9_-]+)/gi, (match, path) => {
      const value = path.split(".").reduce((o, k) => o?.[k], data);
      return (value === undefined || value === null || typeof value === "object") ? match : String(value);
    });
  }

  static parse(formula, data = {}) {
    const replaced = this.replaceFormulaData(formula, data);
    const tokens = tokenize(replaced);
    const { terms, next } = parseSequence(replaced, tokens, 0, data);
    if (next < tokens.length) throw syntaxError(replaced, `unbalanced ")" at position ${tokens[next].position}`);
    return terms;
  }

  static getFormula(terms) {
    let formula = "";
    terms.forEach((term, i) => {
      if (term instanceof OperatorTerm) {
        const unary = i === 0 || terms[i - 1] instanceof OperatorTerm;
        formula += unary ? term.operator : ` ${term.operator} `;
      } else formula += term.formula;
    });
    return formula;
  }

  static fromData(data) {
    const roll = new this(data.formula, {}, data.options ?? {});
    const dice = roll.dice;
    (data.dice ?? []).forEach((d, i) => {
      if (!dice[i]) return;
      dice[i].results = d.results.map((r) => ({ ...r }));
      dice[i]._evaluated = true;
    });
    roll._total = data.total;
    roll._evaluated = Boolean(data.evaluated);
    return roll;
  }

  get formula() {
    return this._formula;
  }

  get total() {
    return this._total;
  }

  get result() {
    return this.terms.map((t) => (t instanceof OperatorTerm ? t.operator : String(t.total))).join(" ");
  }

  get dice() {
    return this.terms.flatMap((t) => {
      if (t instanceof DiceTerm) return [t];
      if (t instanceof ParentheticalTerm) return t.dice;
      return [];
    });
  }

  get isDeterministic() {
    return this.terms.every((t) => t.isDeterministic);
  }

  get evaluated() {
    return this._evaluated;
  }

  async evaluate({ minimize = false, maximize = false, allowStrings = false, allowInteractive = true } = {}) {
    if (this._evaluated) throw new Error(`The ${this.constructor.name} has already been evaluated and is now immutable`);
    if (!this.terms.length) throw new Error("Unable to evaluate an empty roll formula");
    if (rollHold.armed > 0) {
      rollHold.armed -= 1;
      await new Promise((resolve) => rollHold.waiting.push({ formula: this.formula, since: Date.now(), resolve }));
    }
    if (allowInteractive && !minimize && !maximize) await this.#resolveManually();
    for (const term of this.terms) {
      if (term instanceof OperatorTerm) continue;
      if (term instanceof StringTerm && allowStrings) continue;
      await term.evaluate({ minimize, maximize });
    }
    const total = computeTotal(this.terms);
    if (!Number.isFinite(total)) throw new Error(`Roll total was not numeric for formula "${this.formula}"`);
    this._total = total;
    this._evaluated = true;
    return this;
  }

  /** Dice the user fulfils by hand: open the resolver and queue what they type. */
  async #resolveManually() {
    const config = globalThis.game.settings.get("core", "diceConfiguration") ?? {};
    const manual = this.dice.filter((die) => config[`d${die.faces}`] === "manual");
    if (!manual.length) return;
    const dialog = document.createElement("dialog");
    dialog.classList.add("application", "roll-resolver");
    dialog.dataset.formula = this.formula;
    dialog.innerHTML = `<header class="window-header"><h1 class="window-title">Resolve Roll: ${this.formula}</h1></header>`
      + manual.map((die) => Array.from({ length: die.number }, () => `<input type="number" min="1" max="${die.faces}" data-faces="${die.faces}">`).join("")).join("");
    document.body.append(dialog);
    dialog.show();
    const faces = await new Promise((resolve) => { dialog.resolveWith = resolve; });
    dialog.remove();
    queuedDieResults.unshift(...faces);
  }

  /** The chat card HTML of an evaluated roll, like templates/dice/roll.html. */
  async render({ flavor, isPrivate = false } = {}) {
    if (!this._evaluated) await this.evaluate();
    return this.renderSync({ flavor, isPrivate });
  }

  renderSync({ flavor, isPrivate = false } = {}) {
    const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]);
    const parts = this.dice.map((die) => {
      const rolls = die.results.map((r) => `<li class="roll die d${die.faces}${r.active ? "" : " discarded"}">${r.result}</li>`).join("");
      return `<section class="tooltip-part"><div class="dice"><header class="part-header flexrow">`
        + `<span class="part-formula">${escape(die.formula)}</span><span class="part-total">${die.total}</span></header>`
        + `<ol class="dice-rolls">${rolls}</ol></div></section>`;
    }).join("");
    const flavorHtml = flavor ? `<div class="dice-flavor">${flavor}</div>` : "";
    return `<div class="dice-roll">${flavorHtml}<div class="dice-result">`
      + `<div class="dice-formula">${isPrivate ? "???" : escape(this.formula)}</div>`
      + `<div class="dice-tooltip">${isPrivate ? "" : parts}</div>`
      + `<h4 class="dice-total">${isPrivate ? "?" : this.total}</h4></div></div>`;
  }

  /**
   * Post the roll to chat, evaluating it first if needed. Without an explicit visibility the
   * message takes the user's current one (v13 `core.rollMode`, v14 `core.messageMode`), so a
   * GM who left the chat on "blind" posts blind rolls; a blind roll evaluated here does not
   * allow interactive dice.
   * @returns {Promise<ChatMessage|object>}
   */
  async toMessage(messageData = {}, { messageMode, rollMode, create = true } = {}) {
    const { mergeObject } = globalThis.foundry.utils;
    const cls = globalThis.CONFIG.ChatMessage.documentClass;
    const v14 = globalThis.game.release.generation >= 14;
    let options;
    let blind;
    if (v14) {
      if (rollMode) messageMode = mapLegacyRollMode(rollMode, "Roll#toMessage");
      if (!(messageMode in globalThis.CONFIG.ChatMessage.modes)) messageMode = globalThis.game.settings.get("core", "messageMode");
      options = { messageMode };
      blind = messageMode === "blind";
    } else {
      if (rollMode === "roll") rollMode = undefined;
      rollMode ||= globalThis.game.settings.get("core", "rollMode");
      options = { rollMode };
      blind = rollMode === globalThis.CONST.DICE_ROLL_MODES.BLIND;
    }
    if (!this._evaluated) await this.evaluate({ allowInteractive: !blind });
    const data = mergeObject({
      author: globalThis.game.user.id,
      content: String(this.total),
      sound: globalThis.CONFIG.sounds.dice,
    }, messageData);
    data.rolls = [this];
    if (create) return cls.create(data, options);
    const message = new cls(data);
    if (v14) message.applyMode(messageMode);
    else message.applyRollMode(rollMode);
    return message.toObject();
  }

  toJSON() {
    return {
      class: this.constructor.name,
      options: this.options,
      formula: this.formula,
      dice: this.dice.map((d) => d.toJSON()),
      total: this._total,
      evaluated: this._evaluated,
    };
  }
}
