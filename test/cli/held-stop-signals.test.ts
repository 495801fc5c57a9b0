// main.ts holds SIGTERM/SIGINT while the commands load (0.1-0.3 s), then hands the first one to the command's own
// listeners; a command without any ends by it, as it did when nothing held it. Each case is a child process
// that signals itself while the signals are held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../src/cli/held-stop-signals.ts', import.meta.url));

function runChild(body: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  const script = `import { holdStopSignals } from ${JSON.stringify(MODULE)};\nconst held = holdStopSignals();\n${body}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout })));
}

// The signal is raised, then given time to arrive (a listener runs on a later turn of the event loop) before release.
const RAISE_THEN_WAIT = `process.kill(process.pid, 'SIGTERM');\nawait new Promise((r) => setTimeout(r, 300));\nprocess.stdout.write('alive\\n');\n`;

test('a stop signal held while loading goes to the listener the command puts in place', { timeout: 30_000 }, async () => {
  const r = await runChild(`${RAISE_THEN_WAIT}process.on('SIGTERM', () => { process.stdout.write('handled\\n'); process.exit(0); });\nheld.release();\nsetTimeout(() => process.exit(3), 5000);`);
  assert.deepEqual(r, { code: 0, signal: null, stdout: 'alive\nhandled\n' });
});

test('a stop signal held while loading ends a command that does not handle it, by the signal', { timeout: 30_000 }, async () => {
  const r = await runChild(`${RAISE_THEN_WAIT}held.release();\nsetTimeout(() => process.exit(3), 5000);`);
  assert.deepEqual(r, { code: null, signal: 'SIGTERM', stdout: 'alive\n' });
});

test('without a signal, release changes nothing', { timeout: 30_000 }, async () => {
  const r = await runChild(`held.release();\nheld.release();\nprocess.stdout.write('done\\n');`);
  assert.deepEqual(r, { code: 0, signal: null, stdout: 'done\n' });
});
