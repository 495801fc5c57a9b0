// text/plain: one event per non-blank line (the line as a string, without its
// \r\n). Lines suit the common text payloads (log lines, statsd lines); send a
// JSON string as application/json to keep a multi-line text as one event.

export function decodeText(text: string): unknown[] {
  const events: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() !== '') events.push(line);
    start = end + 1;
  }
  return events;
}
