// Text from the outside printed in the CLI's human-readable lines (a dead letter's
// reason, a pipeline's last failure): control characters written as \u001b, so
// they cannot drive the operator's terminal. A decoding failure's reason quotes
// the start of the body (V8: `Unexpected token '\x1b', "\x1b]0;..." is not valid
// JSON`), and anyone who can write to the ingest port chooses those bytes.

/** C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder what is shown. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character as a visible \uXXXX escape. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
