// Child process of writer-lock.test.ts: takes the writer lock of each directory given, at
// the moments the parent names (so two racers collide), and prints what each attempt got.
// It keeps every lock it took until the parent closes its stdin.
import { createInterface } from 'node:readline';
import { WriterLock } from '../../src/log/embedded/writer-lock.js';

const [spacingMsText, ...dirs] = process.argv.slice(2);
const spacingMs = Number(spacingMsText);
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
const startAtMs = await new Promise<number>((resolve) => lines.once('line', (l) => resolve(Number(l))));
const results: string[] = [];
for (let k = 0; k < dirs.length; k++) {
  while (Date.now() < startAtMs + k * spacingMs) {
    // Spin rather than sleep: a timer would wake the two racers milliseconds apart.
  }
  try {
    await WriterLock.acquire(dirs[k]!, `dir ${k}`);
    results.push('ok');
  } catch (err) {
    results.push((err as { code?: string }).code ?? String(err));
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
await new Promise((resolve) => lines.once('close', resolve));
