// Waits for a `hopper serve` child process to log its start line: collects its
// stderr lines (for as long as it runs) and fails with what it said when it
// exits first or does not start in time. Shared by every harness that spawns serve.
import type { ChildProcess } from 'node:child_process';

/** The JSON of the "hopper serve listening" line; `lines` keeps receiving every later stderr line too. */
export function waitForListening(
  child: ChildProcess,
  lines: string[],
  exited: Promise<unknown>,
  timeoutMs: number,
  onTimeout: () => void = () => undefined,
): Promise<Record<string, unknown>> {
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`hopper serve did not start in ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line.includes('"hopper serve listening"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`hopper serve exited (${child.signalCode ?? child.exitCode}) before listening:\n${lines.join('\n')}${buffered}`));
    });
  });
}
