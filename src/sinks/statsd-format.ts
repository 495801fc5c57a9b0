// Metric events to statsd lines, and lines packed into UDP datagrams.
//
// An event is either a JSON object {name, value, type, tags?, sampleRate?} or a raw
// line as a client would send it ("api.hits:1|c|@0.5|#env:prod"). Both are checked
// and brought to one form, then written in the chosen flavour:
//   statsd      name:value|type[|@rate]            (tags are dropped: plain statsd has none)
//   dogstatsd   name:value|type[|@rate][|#k:v,...]  (https://docs.datadoghq.com/developers/dogstatsd/datagram_shell/)
// Several lines share a datagram, separated by "\n", up to maxDatagramBytes: 1432
// by default, what fits an Ethernet MTU of 1500 minus IPv6 and UDP headers, so no
// datagram is fragmented (a lost fragment loses the whole datagram).

export type StatsdType = 'c' | 'g' | 'ms' | 'h' | 's';
export type StatsdFlavor = 'statsd' | 'dogstatsd';

export interface StatsdMetric {
  name: string;
  /** The value as written on the wire: "+3" and "-3" on a gauge are deltas. */
  value: string;
  type: StatsdType;
  /** Present when below 1. */
  sampleRate?: number;
  /** "key:value" or "key". */
  tags: string[];
  /** DogStatsD sections kept as sent ("T1700000000", "c:container-id"). */
  extras: string[];
}

export type MetricParse = { ok: true; metric: StatsdMetric } | { ok: false; reason: string };

const TYPE_ALIASES: Record<string, StatsdType> = {
  c: 'c',
  counter: 'c',
  count: 'c',
  g: 'g',
  gauge: 'g',
  ms: 'ms',
  timer: 'ms',
  timing: 'ms',
  h: 'h',
  histogram: 'h',
  s: 's',
  set: 's',
};

export const MAX_NAME_CHARS = 250;
export const MAX_TAGS = 64;
export const MAX_TAG_CHARS = 200;
export const MAX_SET_VALUE_CHARS = 200;

/** Characters that would change how a line is split: ":" ends the name, "|" a section, "\n" the line. */
const BAD_NAME = /[:|@#\s\u0000-\u001f\u007f]/;
const BAD_TAG = /[|,#\s\u0000-\u001f\u007f]/;
const BAD_SET_VALUE = /[:|\u0000-\u001f\u007f]/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function fail(reason: string): MetricParse {
  return { ok: false, reason };
}

function checkName(name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return 'name must be a non-empty string';
  if (name.length > MAX_NAME_CHARS) return `name is longer than ${MAX_NAME_CHARS} characters`;
  if (BAD_NAME.test(name)) return `name ${JSON.stringify(name)} contains one of : | @ # or whitespace`;
  return null;
}

function checkTag(tag: string): string | null {
  if (tag === '' || tag.length > MAX_TAG_CHARS) return `tag ${JSON.stringify(tag.slice(0, 50))} must be 1 to ${MAX_TAG_CHARS} characters`;
  if (BAD_TAG.test(tag)) return `tag ${JSON.stringify(tag)} contains one of | , # or whitespace`;
  return null;
}

/** The value on the wire for a JSON value: numbers (or numeric strings, as form and pixel posts send them). */
function checkValue(value: unknown, type: StatsdType): { value: string } | { reason: string } {
  if (type === 's') {
    if (typeof value === 'number' && Number.isFinite(value)) return { value: String(value) };
    if (typeof value === 'string' && value !== '' && value.length <= MAX_SET_VALUE_CHARS && !BAD_SET_VALUE.test(value)) return { value };
    return { reason: `set value must be a number or a string of 1 to ${MAX_SET_VALUE_CHARS} characters without : or |` };
  }
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && NUMBER.test(value.trim())) n = Number(value.trim());
  else return { reason: `value must be a number, got ${JSON.stringify(value)?.slice(0, 50) ?? typeof value}` };
  if (!Number.isFinite(n)) return { reason: 'value must be a finite number' };
  if (type === 'ms' && n < 0) return { reason: 'a timer value must be >= 0 (milliseconds)' };
  return { value: String(n) };
}

function checkRate(rate: unknown): { rate?: number } | { reason: string } {
  if (rate === undefined || rate === null) return {};
  const n = typeof rate === 'string' && NUMBER.test(rate.trim()) ? Number(rate) : rate;
  if (typeof n !== 'number' || !(n > 0 && n <= 1)) return { reason: `sampleRate must be a number in (0, 1], got ${JSON.stringify(rate)}` };
  return n === 1 ? {} : { rate: n };
}

function tagsOf(tags: unknown): { tags: string[] } | { reason: string } {
  if (tags === undefined || tags === null) return { tags: [] };
  let list: string[];
  if (Array.isArray(tags)) {
    if (!tags.every((t) => typeof t === 'string')) return { reason: 'tags must be an array of "key:value" strings or an object' };
    list = tags as string[];
  } else if (typeof tags === 'object') {
    list = [];
    for (const [k, v] of Object.entries(tags)) {
      if (v === true || v === null || v === '') list.push(k);
      else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') list.push(`${k}:${v}`);
      else return { reason: `tag ${JSON.stringify(k)} must have a string, number or boolean value` };
    }
  } else {
    return { reason: 'tags must be an array of "key:value" strings or an object' };
  }
  if (list.length > MAX_TAGS) return { reason: `more than ${MAX_TAGS} tags` };
  for (const t of list) {
    const bad = checkTag(t);
    if (bad) return { reason: bad };
  }
  return { tags: list };
}

/** A JSON metric event: {name, value, type, tags?, sampleRate?} (type: counter|gauge|timer|histogram|set or c|g|ms|h|s). */
export function metricFromObject(event: Record<string, unknown>): MetricParse {
  const badName = checkName(event.name);
  if (badName) return fail(badName);
  const typeName = typeof event.type === 'string' ? event.type.toLowerCase() : '';
  const type = Object.hasOwn(TYPE_ALIASES, typeName) ? TYPE_ALIASES[typeName]! : undefined;
  if (!type) return fail(`type must be one of counter, gauge, timer, histogram, set (or c, g, ms, h, s), got ${JSON.stringify(event.type) ?? 'nothing'}`);
  const value = checkValue(event.value, type);
  if ('reason' in value) return fail(value.reason);
  const rate = checkRate(event.sampleRate ?? event.rate);
  if ('reason' in rate) return fail(rate.reason);
  const tags = tagsOf(event.tags);
  if ('reason' in tags) return fail(tags.reason);
  const metric: StatsdMetric = { name: event.name as string, value: value.value, type, tags: tags.tags, extras: [] };
  if (rate.rate !== undefined) metric.sampleRate = rate.rate;
  return { ok: true, metric };
}

/** A raw statsd or DogStatsD line: name:value|type[|@rate][|#tags][|T...][|c:...]. */
export function metricFromLine(line: string): MetricParse {
  const text = line.trim();
  const sections = text.split('|');
  const head = sections[0]!;
  const colon = head.indexOf(':');
  if (colon <= 0 || sections.length < 2) return fail(`not a statsd line (name:value|type): ${JSON.stringify(text.slice(0, 80))}`);
  const name = head.slice(0, colon);
  const badName = checkName(name);
  if (badName) return fail(badName);
  const rawType = sections[1]!;
  const type = (['c', 'g', 'ms', 'h', 's'] as const).find((t) => t === rawType);
  if (!type) return fail(`statsd type must be c, g, ms, h or s, got ${JSON.stringify(rawType)}`);
  const value = head.slice(colon + 1);
  if (type === 's') {
    if (value === '' || value.length > MAX_SET_VALUE_CHARS || BAD_SET_VALUE.test(value)) return fail('bad set value');
  } else if (!NUMBER.test(value)) {
    return fail(`value ${JSON.stringify(value.slice(0, 50))} is not a number`);
  } else if (!Number.isFinite(Number(value))) {
    // "1e999" passes the syntax but overflows to Infinity in every statsd parser: refused as a JSON metric's would be.
    return fail(`value ${JSON.stringify(value.slice(0, 50))} must be a finite number`);
  } else if (type === 'ms' && value.startsWith('-')) {
    return fail('a timer value must be >= 0 (milliseconds)');
  }
  const metric: StatsdMetric = { name, value, type, tags: [], extras: [] };
  for (const section of sections.slice(2)) {
    if (section.startsWith('@')) {
      const rate = checkRate(section.slice(1));
      if ('reason' in rate) return fail(rate.reason);
      if (rate.rate !== undefined) metric.sampleRate = rate.rate;
    } else if (section.startsWith('#')) {
      for (const tag of section.slice(1).split(',')) {
        const bad = checkTag(tag);
        if (bad) return fail(bad);
        metric.tags.push(tag);
      }
      if (metric.tags.length > MAX_TAGS) return fail(`more than ${MAX_TAGS} tags`);
    } else if (/^T\d{1,12}$/.test(section) || /^c:[A-Za-z0-9_.:-]{1,128}$/.test(section)) {
      metric.extras.push(section);
    } else {
      return fail(`unknown statsd section ${JSON.stringify(section.slice(0, 50))}`);
    }
  }
  return { ok: true, metric };
}

/** Any decoded event: a string is a raw line (text/plain bodies give one per line), an object a JSON metric. */
export function metricFromEvent(event: unknown): MetricParse {
  if (typeof event === 'string') return metricFromLine(event);
  if (typeof event === 'object' && event !== null && !Array.isArray(event)) return metricFromObject(event as Record<string, unknown>);
  return fail(`a metric is a JSON object {name, value, type} or a statsd line, got ${Array.isArray(event) ? 'an array' : typeof event}`);
}

export interface FormatOptions {
  flavor: StatsdFlavor;
  /** Prepended to every name ("myapp."). */
  prefix: string;
  /** Added to every metric's tags (dogstatsd only). */
  globalTags: string[];
}

/**
 * A rate in (0, 1) in plain decimal digits: String() writes those under 1e-6 with an exponent ("1e-7"), which
 * statsd's "@" parser (digits and dots only) does not read, taking the rate for 1 and undercounting.
 */
function plainDecimal(n: number): string {
  const text = String(n);
  const m = /^(\d)(?:\.(\d+))?e-(\d+)$/.exec(text);
  if (!m) return text;
  return `0.${'0'.repeat(Number(m[3]) - 1)}${m[1]}${m[2] ?? ''}`;
}

/**
 * The line(s) for one metric. Plain statsd reads a gauge value with a sign as a
 * delta, so an absolute negative gauge from a JSON event is sent as "0" then the
 * value: two lines that always share a datagram.
 */
export function formatMetric(m: StatsdMetric, opts: FormatOptions, fromJson: boolean): string {
  let tail = `|${m.type}`;
  if (m.sampleRate !== undefined) tail += `|@${plainDecimal(m.sampleRate)}`;
  if (opts.flavor === 'dogstatsd') {
    const tags = opts.globalTags.length > 0 ? [...opts.globalTags, ...m.tags] : m.tags;
    if (tags.length > 0) tail += `|#${tags.join(',')}`;
    for (const extra of m.extras) tail += `|${extra}`;
  }
  const name = opts.prefix + m.name;
  if (opts.flavor === 'statsd' && fromJson && m.type === 'g' && m.value.startsWith('-')) return `${name}:0${tail}\n${name}:${m.value}${tail}`;
  return `${name}:${m.value}${tail}`;
}

/**
 * Packs lines into datagrams of at most maxBytes: one or more whole lines joined
 * by "\n", never a line split across two. add() returns the datagrams it filled.
 */
export class DatagramPacker {
  private parts: string[] = [];
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** `lines` (one metric, maybe two lines) must fit maxBytes: check with fits() first. */
  add(lines: string, out: Buffer[]): void {
    const size = Buffer.byteLength(lines);
    if (this.parts.length > 0 && this.bytes + 1 + size > this.maxBytes) this.flush(out);
    this.bytes += (this.parts.length > 0 ? 1 : 0) + size;
    this.parts.push(lines);
  }

  fits(lines: string): boolean {
    return Buffer.byteLength(lines) <= this.maxBytes;
  }

  flush(out: Buffer[]): void {
    if (this.parts.length === 0) return;
    out.push(Buffer.from(this.parts.join('\n')));
    this.parts = [];
    this.bytes = 0;
  }
}
