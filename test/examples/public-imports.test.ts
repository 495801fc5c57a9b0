// The examples are what users copy: their processors import Hopper only through the package's entry
// (src/index.ts, `hopper` in a user's project), so every name they use is one a user can import. They
// used to import src/sinks/... and src/work/... directly, names the package did not export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as hopper from '../../src/index.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

test('example processors import Hopper only from the package entry', () => {
  const files = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.includes('node_modules'));
  assert.ok(files.length >= 3, `example modules found: ${files.join(', ')}`);
  for (const file of files) {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g)) {
      if (!spec!.startsWith('.')) continue;
      assert.equal(spec, '../../src/index.js', `${file} imports ${spec}: import from the package entry (src/index.ts), export the name there if users need it`);
    }
  }
});

test('the package entry exports the built-in sinks and the PostgreSQL error classes', () => {
  for (const name of ['postgresSink', 'httpForwardSink', 'statsdSink', 'filesSink', 'classifyPgError', 'defineProcessor', 'RetriableError']) {
    assert.equal(typeof (hopper as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(hopper.classifyPgError(Object.assign(new Error('deadlock'), { code: '40P01' })), 'transient');
});
