/**
 * A TOML subset parser for inventory files: tables, arrays of tables, dotted
 * and quoted keys, strings (basic, literal, multi-line), integers, floats,
 * booleans, arrays and inline tables. Dates and times are refused.
 * @module
 */

/** A TOML document that could not be parsed; the message names the line. */
export class TomlError extends SyntaxError {
  /** 1-based line of the problem. */
  readonly line: number;
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.name = "TomlError";
    this.line = line;
  }
}

type Table = Record<string, unknown>;

// Tables made by [header] or dotted keys may be extended; inline tables and values may not.
const EXPLICIT = Symbol("explicit");
const FROZEN = Symbol("frozen");
const AOT = Symbol("arrayOfTables");

type Marked = Table & { [EXPLICIT]?: true; [FROZEN]?: true };

const BARE_KEY = /[A-Za-z0-9_-]/;

/** Parses a TOML document (the subset above) into plain objects. Throws TomlError. */
export function parseToml(text: string): Record<string, unknown> {
  return new Parser(text).document();
}

class Parser {
  #s: string;
  #i = 0;
  #line = 1;

  constructor(text: string) {
    this.#s = text.replace(/^\uFEFF/, "");
  }

  #fail(message: string): never {
    throw new TomlError(message, this.#line);
  }

  #peek(offset = 0): string {
    return this.#s[this.#i + offset] ?? "";
  }

  #next(): string {
    const c = this.#s[this.#i++] ?? "";
    if (c === "\n") this.#line++;
    return c;
  }

  #startsWith(s: string): boolean {
    return this.#s.startsWith(s, this.#i);
  }

  // Spaces and tabs only.
  #ws(): void {
    while (this.#peek() === " " || this.#peek() === "\t") this.#i++;
  }

  #comment(): void {
    if (this.#peek() !== "#") return;
    while (this.#i < this.#s.length && this.#peek() !== "\n") {
      const c = this.#next();
      // deno-lint-ignore no-control-regex
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(c) && c !== "\r") {
        this.#fail("control character in comment");
      }
    }
  }

  // Spaces, newlines and comments (inside arrays).
  #wsNl(): void {
    for (;;) {
      this.#ws();
      this.#comment();
      if (this.#peek() === "\n") this.#next();
      else if (this.#startsWith("\r\n")) {
        this.#i++;
        this.#next();
      } else return;
    }
  }

  #endOfLine(): void {
    this.#ws();
    this.#comment();
    if (this.#i >= this.#s.length) return;
    if (this.#peek() === "\n") return void this.#next();
    if (this.#startsWith("\r\n")) {
      this.#i++;
      return void this.#next();
    }
    this.#fail(`unexpected "${this.#peek()}" after a value (one key = value per line)`);
  }

  document(): Table {
    const root: Marked = {};
    let current: Marked = root;
    while (this.#i < this.#s.length) {
      this.#wsNl();
      if (this.#i >= this.#s.length) break;
      if (this.#startsWith("[[")) {
        this.#i += 2;
        const path = this.#key();
        if (!this.#startsWith("]]")) this.#fail('expected "]]" to close the table header');
        this.#i += 2;
        current = this.#arrayTable(root, path);
      } else if (this.#peek() === "[") {
        this.#i++;
        const path = this.#key();
        if (this.#peek() !== "]") this.#fail('expected "]" to close the table header');
        this.#i++;
        current = this.#table(root, path);
      } else {
        this.#keyValue(current);
      }
      this.#endOfLine();
    }
    return strip(root) as Table;
  }

  // Walks to (creating) the table at `path`; arrays of tables lead to their last element.
  #walk(root: Marked, path: string[], header: string): Marked {
    let t: Marked = root;
    for (const k of path) {
      const v = t[k];
      if (v === undefined) {
        const fresh: Marked = {};
        t[k] = fresh;
        t = fresh;
      } else if (Array.isArray(v) && (v as { [AOT]?: true })[AOT]) {
        t = v[v.length - 1] as Marked;
      } else if (isTable(v) && !(v as Marked)[FROZEN]) {
        t = v as Marked;
      } else {
        this.#fail(`${header}: "${k}" is already a value`);
      }
    }
    return t;
  }

  #table(root: Marked, path: string[]): Marked {
    const header = `[${path.join(".")}]`;
    const parent = this.#walk(root, path.slice(0, -1), header);
    const k = path[path.length - 1]!;
    const v = parent[k];
    if (v === undefined) {
      const fresh: Marked = { [EXPLICIT]: true };
      parent[k] = fresh;
      return fresh;
    }
    if (!isTable(v) || (v as Marked)[FROZEN]) this.#fail(`${header}: "${k}" is already a value`);
    if ((v as Marked)[EXPLICIT]) this.#fail(`table ${header} defined twice`);
    (v as Marked)[EXPLICIT] = true;
    return v as Marked;
  }

  #arrayTable(root: Marked, path: string[]): Marked {
    const header = `[[${path.join(".")}]]`;
    const parent = this.#walk(root, path.slice(0, -1), header);
    const k = path[path.length - 1]!;
    let arr = parent[k] as (Marked[] & { [AOT]?: true }) | undefined;
    if (arr === undefined) {
      arr = [] as Marked[] & { [AOT]?: true };
      arr[AOT] = true;
      parent[k] = arr;
    } else if (!Array.isArray(arr) || !arr[AOT]) {
      this.#fail(`${header}: "${k}" is already a value`);
    }
    const t: Marked = {};
    arr.push(t);
    return t;
  }

  #keyValue(into: Marked): void {
    const path = this.#key();
    if (this.#peek() !== "=") this.#fail(`expected "=" after key "${path.join(".")}"`);
    this.#i++;
    this.#ws();
    const value = this.#value();
    let t: Marked = into;
    for (const k of path.slice(0, -1)) {
      const v = t[k];
      if (v === undefined) {
        const fresh: Marked = {};
        t[k] = fresh;
        t = fresh;
      } else if (isTable(v) && !(v as Marked)[FROZEN] && !(v as Marked)[EXPLICIT]) {
        t = v as Marked;
      } else {
        this.#fail(`key "${path.join(".")}": "${k}" is already defined`);
      }
    }
    const last = path[path.length - 1]!;
    if (Object.hasOwn(t, last)) this.#fail(`key "${path.join(".")}" defined twice`);
    t[last] = value;
  }

  // A dotted key: bare or quoted parts separated by ".".
  #key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.#ws();
      const c = this.#peek();
      if (c === '"') parts.push(this.#basicString());
      else if (c === "'") parts.push(this.#literalString());
      else {
        const start = this.#i;
        while (BARE_KEY.test(this.#peek())) this.#i++;
        if (this.#i === start) {
          this.#fail(c === "" || c === "\n" ? "expected a key" : `unexpected "${c}" in a key`);
        }
        parts.push(this.#s.slice(start, this.#i));
      }
      this.#ws();
      if (this.#peek() !== ".") return parts;
      this.#i++;
    }
  }

  #value(): unknown {
    const c = this.#peek();
    if (this.#startsWith('"""')) return this.#multiBasic();
    if (this.#startsWith("'''")) return this.#multiLiteral();
    if (c === '"') return this.#basicString();
    if (c === "'") return this.#literalString();
    if (c === "[") return this.#array();
    if (c === "{") return this.#inlineTable();
    if (this.#startsWith("true") && !BARE_KEY.test(this.#peek(4))) {
      this.#i += 4;
      return true;
    }
    if (this.#startsWith("false") && !BARE_KEY.test(this.#peek(5))) {
      this.#i += 5;
      return false;
    }
    return this.#number();
  }

  #number(): number {
    const m = /^[+-]?(?:inf|nan)|^[0-9A-Za-z_.+:-]+/.exec(this.#s.slice(this.#i));
    if (!m) this.#fail(c(this.#peek()));
    const raw = m[0];
    if (/^\d{4}-\d{2}-\d{2}|^\d{2}:\d{2}/.test(raw)) {
      this.#fail("dates and times are not supported");
    }
    this.#i += raw.length;
    if (/^[+-]?inf$/.test(raw)) return raw.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(raw)) return NaN;
    const ok = /^[+-]?(?:0|[1-9](?:_?\d)*)$/.test(raw) ||
      /^0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*$/.test(raw) ||
      /^0o[0-7](?:_?[0-7])*$/.test(raw) ||
      /^0b[01](?:_?[01])*$/.test(raw) ||
      /^[+-]?(?:0|[1-9](?:_?\d)*)(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?$/.test(raw);
    if (!ok) this.#fail(`invalid value "${raw}" (strings need quotes)`);
    const n = Number(raw.replace(/_/g, ""));
    if (Number.isNaN(n)) this.#fail(`invalid number "${raw}"`);
    return n;
  }

  #escape(): string {
    const e = this.#next();
    switch (e) {
      case "b":
        return "\b";
      case "t":
        return "\t";
      case "n":
        return "\n";
      case "f":
        return "\f";
      case "r":
        return "\r";
      case "e":
        return "\x1b";
      case '"':
        return '"';
      case "\\":
        return "\\";
      case "u":
      case "U": {
        const len = e === "u" ? 4 : 8;
        const hex = this.#s.slice(this.#i, this.#i + len);
        if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(hex)) this.#fail("invalid unicode escape");
        this.#i += len;
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.#fail("invalid unicode escape");
        return String.fromCodePoint(cp);
      }
      default:
        this.#fail(`invalid escape "\\${e}"`);
    }
  }

  #basicString(): string {
    this.#i++;
    let out = "";
    for (;;) {
      const ch = this.#next();
      if (ch === "" || ch === "\n") this.#fail("unterminated string");
      if (ch === '"') return out;
      if (ch === "\\") out += this.#escape();
      else out += ch;
    }
  }

  #literalString(): string {
    this.#i++;
    const start = this.#i;
    for (;;) {
      const ch = this.#next();
      if (ch === "" || ch === "\n") this.#fail("unterminated string");
      if (ch === "'") return this.#s.slice(start, this.#i - 1);
    }
  }

  #skipFirstNewline(): void {
    if (this.#peek() === "\n") this.#next();
    else if (this.#startsWith("\r\n")) {
      this.#i++;
      this.#next();
    }
  }

  #multiBasic(): string {
    this.#i += 3;
    this.#skipFirstNewline();
    let out = "";
    for (;;) {
      if (this.#startsWith('"""')) return out + this.#closeQuotes('"');
      const ch = this.#next();
      if (ch === "") this.#fail('unterminated """ string');
      if (ch === "\\") {
        // A backslash at the end of a line trims the newline and the next line's indent.
        if (/^[ \t]*\r?\n/.test(this.#s.slice(this.#i))) {
          while (/[ \t\r\n]/.test(this.#peek())) this.#next();
        } else out += this.#escape();
      } else out += ch;
    }
  }

  #multiLiteral(): string {
    this.#i += 3;
    this.#skipFirstNewline();
    let out = "";
    for (;;) {
      if (this.#startsWith("'''")) return out + this.#closeQuotes("'");
      const ch = this.#next();
      if (ch === "") this.#fail("unterminated ''' string");
      out += ch;
    }
  }

  // At a closing triple quote: up to two more quotes belong to the content.
  #closeQuotes(q: string): string {
    let n = 0;
    while (this.#peek(n) === q && n < 5) n++;
    this.#i += n;
    return q.repeat(n - 3);
  }

  #array(): unknown[] {
    this.#i++;
    const out: unknown[] = [];
    for (;;) {
      this.#wsNl();
      if (this.#peek() === "]") {
        this.#i++;
        return out;
      }
      out.push(this.#value());
      this.#wsNl();
      if (this.#peek() === ",") {
        this.#i++;
        continue;
      }
      if (this.#peek() === "]") {
        this.#i++;
        return out;
      }
      this.#fail(`expected "," or "]" in an array, found ${c(this.#peek())}`);
    }
  }

  #inlineTable(): Table {
    this.#i++;
    const t: Marked = {};
    this.#ws();
    if (this.#peek() === "}") {
      this.#i++;
      return freeze(t);
    }
    for (;;) {
      this.#ws();
      this.#keyValue(t);
      this.#ws();
      if (this.#peek() === ",") {
        this.#i++;
        continue;
      }
      if (this.#peek() === "}") {
        this.#i++;
        return freeze(t);
      }
      this.#fail(`expected "," or "}" in an inline table, found ${c(this.#peek())}`);
    }
  }
}

function c(ch: string): string {
  return ch === "" ? "the end of the file" : ch === "\n" ? "the end of the line" : `"${ch}"`;
}

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function freeze(t: Marked): Marked {
  // Inline tables are complete: nothing may add keys to them later.
  for (const v of Object.values(t)) if (isTable(v)) (v as Marked)[FROZEN] = true;
  t[FROZEN] = true;
  return t;
}

// Plain objects and arrays, without the parser's marks.
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (isTable(v)) {
    const out: Table = {};
    for (const [k, x] of Object.entries(v)) out[k] = strip(x);
    return out;
  }
  return v;
}
