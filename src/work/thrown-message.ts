// What user code threw, as text for an error message. Processors and their modules may
// throw anything (throw null, throw "down", a revoked Proxy): reading `.message` off such a
// value would itself throw and hide the pipeline and processor the message is about.

/** The message of an Error, a thrown string as is, any other value described; never throws. */
export function thrownMessage(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return thrown.message || thrown.name;
    if (typeof thrown === 'string' && thrown !== '') return thrown;
    return `${typeof thrown === 'string' ? '""' : String(thrown)} was thrown (not an Error)`;
  } catch {
    return 'a value that cannot be described was thrown (reading or converting it threw)';
  }
}
