// What user code threw, as text for an error message. Processors and their modules may
// throw anything (throw null, throw "down", a revoked Proxy): reading `.message` off such a
// value would itself throw and hide the pipeline and processor the message is about.

/** Longest description of a thrown plain object (its JSON): the message stays one readable line. */
const MAX_DESCRIBED_CHARS = 1000;

/** The message of an Error, a thrown string as is, any other value described; never throws. */
export function thrownMessage(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return thrown.message || thrown.name;
    if (typeof thrown === 'string' && thrown !== '') return thrown;
    // A plain object (what some clients reject with: { code, message }) read "[object Object]": its message, or its JSON.
    if (typeof thrown === 'object' && thrown !== null) {
      const text = (thrown as { message?: unknown }).message;
      if (typeof text === 'string' && text !== '') return text;
      const described = String(thrown);
      if (described !== '[object Object]') return described;
      return `${(JSON.stringify(thrown) ?? described).slice(0, MAX_DESCRIBED_CHARS)} was thrown (not an Error)`;
    }
    return `${typeof thrown === 'string' ? '""' : String(thrown)} was thrown (not an Error)`;
  } catch {
    return 'a value that cannot be described was thrown (reading or converting it threw)';
  }
}
