// A strict parser of the Prometheus text exposition format (version 0.0.4), for
// tests: every line must be a comment, a HELP/TYPE line or a sample of a family
// declared before it; label values are unescaped; histograms are checked for
// cumulative buckets ending in +Inf that equal _count.
// https://prometheus.io/docs/instrumenting/exposition_formats/

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?[ \\t]+(\\S+)(?:[ \\t]+(-?\\d+))?$`);
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Values parse like Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any case. */
function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad sample value in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text.trim() === '') return out;
  LABEL_RE.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    LABEL_RE.lastIndex = pos;
    const m = LABEL_RE.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    if (m[1]! in out) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    pos = LABEL_RE.lastIndex;
    if (m[3] === '') break;
  }
  if (text.slice(pos).trim() !== '') throw new Error(`bad labels in: ${line}`);
  return out;
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const f = families.get(sample.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('the exposition must end with a newline');
  for (const line of lines) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m;
      let f = families.get(name!);
      if (!f) families.set(name!, (f = { name: name!, type: 'untyped', help: '', samples: [] }));
      if (kind === 'TYPE') {
        if (!TYPES.has(rest!)) throw new Error(`unknown type in: ${line}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples in: ${line}`);
        f.type = rest!;
      } else f.help = rest!;
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const f = familyOf(m[1]!, families);
    if (!f) throw new Error(`sample of an undeclared family: ${line}`);
    f.samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!, line) });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
}

function checkHistogram(f: PromFamily): void {
  const buckets = new Map<string, PromSample[]>();
  const counts = new Map<string, number>();
  for (const s of f.samples) {
    const key = seriesKey(s.labels);
    if (s.name === `${f.name}_bucket`) {
      if (s.labels.le === undefined) throw new Error(`${f.name}: bucket without le`);
      if (!buckets.has(key)) buckets.set(key, []);
      buckets.get(key)!.push(s);
    } else if (s.name === `${f.name}_count`) counts.set(key, s.value);
  }
  for (const [key, bs] of buckets) {
    let prev = -Infinity;
    let prevValue = 0;
    for (const b of bs) {
      const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
      if (!(le > prev)) throw new Error(`${f.name}${key}: le not increasing`);
      if (b.value < prevValue) throw new Error(`${f.name}${key}: buckets not cumulative`);
      prev = le;
      prevValue = b.value;
    }
    if (prev !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (counts.get(key) !== prevValue) throw new Error(`${f.name}${key}: +Inf bucket ${prevValue} != _count ${counts.get(key)}`);
  }
}

/** The value of the one sample of `name` whose labels include `labels` (sum when several match; 0 when none). */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const f = familyOf(name, families);
  if (!f) return 0;
  let sum = 0;
  for (const s of f.samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}
