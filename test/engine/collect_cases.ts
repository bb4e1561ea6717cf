// Prints, as JSON, the op cases that the test files under test/engine declare through ./devices.ts (forDevices /
// opCase), without running them: mocha's describe/it are replaced by stand-ins that only walk the suites.
// Run by registry.test.ts in a child process, so that it sees every file whichever files mocha was given.
import * as fs from 'fs';
import * as path from 'path';

type Fn = (this: unknown, ...a: unknown[]) => unknown;
const ctx = { timeout: () => ctx, slow: () => ctx, retries: () => ctx, skip: () => undefined };
const suite = (_title: string, fn?: Fn): void => { if (fn) fn.call(ctx); };
const noop = (): void => undefined;
const g = globalThis as Record<string, unknown>;
for (const [k, v] of Object.entries({ describe: suite, context: suite, it: noop, specify: noop, before: noop, after: noop, beforeEach: noop, afterEach: noop })) {
  g[k] = Object.assign(v, { skip: v === suite ? noop : noop, only: v });
}
g.xit = noop;
g.xdescribe = noop;

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('.test.js') && e.name !== 'registry.test.js' ? [p] : [];
  }).sort();
}

const files = testFiles(__dirname);
for (const f of files) require(f);
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { declared } = require('./devices') as typeof import('./devices');
process.stdout.write(JSON.stringify({ files: files.map((f) => path.relative(__dirname, f)), declared }));
