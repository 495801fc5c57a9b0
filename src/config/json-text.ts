// A strict JSON scanner for the config file, run beside JSON.parse for what it
// does not say: where a syntax error is (line and column, never the text around
// it, which JSON.parse quotes and which may be a secret: `"token":s3cret`), and
// keys given twice in one object (JSON.parse keeps the last without a word).

/** Deeper nesting than any config has: past it the file is refused rather than the scan overflowing the stack. */
const MAX_DEPTH = 512;

export interface JsonTextProblem {
  kind: 'syntax' | 'duplicate';
  /** 1-based, of the offending character (or of the second occurrence of the key). */
  line: number;
  column: number;
  /** syntax: what is wrong there, e.g. "a value was expected (...)". */
  problem?: string;
  /** duplicate: the key's path, and the line of its first occurrence. */
  path?: string[];
  firstLine?: number;
}

class Fail extends Error {
  constructor(
    readonly at: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Scanner {
  private pos = 0;
  duplicate: { path: string[]; at: number; firstAt: number } | null = null;

  constructor(private readonly text: string) {}

  scan(): void {
    this.value([], 0);
    this.ws();
    if (this.pos < this.text.length) throw new Fail(this.pos, 'the file should end after its one top-level object');
  }

  private ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  private value(path: string[], depth: number): void {
    if (depth > MAX_DEPTH) throw new Fail(this.pos, `more than ${MAX_DEPTH} levels of nesting`);
    this.ws();
    const c = this.text[this.pos];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    if (c === '"') {
      this.string();
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return;
      }
    }
    NUMBER.lastIndex = this.pos;
    if (NUMBER.test(this.text)) {
      this.pos = NUMBER.lastIndex;
      return;
    }
    const what = c === undefined ? 'the file ends where a value was expected' : c === ']' || c === '}' ? 'a value was expected (a trailing comma is not JSON)' : 'a value was expected';
    throw new Fail(this.pos, `${what}: an object, a list, a "string", a number, true, false or null`);
  }

  private object(path: string[], depth: number): void {
    this.pos++;
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    const seen = new Map<string, number>();
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') {
        throw new Fail(this.pos, this.text[this.pos] === '}' ? 'a key was expected after the comma (a trailing comma is not JSON)' : 'a key in double quotes was expected');
      }
      const keyAt = this.pos;
      const key = this.string();
      const firstAt = seen.get(key);
      if (firstAt !== undefined) this.duplicate ??= { path: [...path, key], at: keyAt, firstAt };
      else seen.set(key, keyAt);
      this.ws();
      if (this.text[this.pos] !== ':') throw new Fail(this.pos, "':' was expected after the key");
      this.pos++;
      this.value([...path, key], depth + 1);
      this.ws();
      const next = this.text[this.pos];
      this.pos++;
      if (next === '}') return;
      if (next !== ',') throw new Fail(this.pos - 1, "',' or '}' was expected");
    }
  }

  private array(path: string[], depth: number): void {
    this.pos++;
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      this.value([...path, String(i)], depth + 1);
      this.ws();
      const next = this.text[this.pos];
      this.pos++;
      if (next === ']') return;
      if (next !== ',') throw new Fail(this.pos - 1, "',' or ']' was expected");
    }
  }

  /** Reads a string (at its opening quote) and returns its value. */
  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (Number.isNaN(c)) throw new Fail(start, 'this string has no closing \'"\'');
      if (c === 0x22) break;
      if (c < 0x20) throw new Fail(this.pos, 'a string holds a control character (a line break, a tab): write \\n or \\t');
      if (c === 0x5c) {
        const e = this.text[this.pos + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) throw new Fail(this.pos, 'four hex digits were expected after \\u');
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(this.pos, 'an invalid escape: use \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX');
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1 };
}

/** The first syntax error of `text`, else its first key given twice in one object, else null. */
export function jsonTextProblem(text: string): JsonTextProblem | null {
  const scanner = new Scanner(text);
  try {
    scanner.scan();
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    return { kind: 'syntax', ...lineAndColumn(text, err.at), problem: err.problem };
  }
  const d = scanner.duplicate;
  if (d === null) return null;
  return { kind: 'duplicate', ...lineAndColumn(text, d.at), path: d.path, firstLine: lineAndColumn(text, d.firstAt).line };
}
