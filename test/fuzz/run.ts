// The fuzz runner: replays the saved regression cases of a target, then feeds it `n` mutated inputs from a seed.
// A failure is an unknown error class (a TypeError/RangeError from deep inside, a plain Error without the file
// name), or an input slower than the per-input limit; each is saved to test/fuzz/cases/<target>-<hash>.bin.
// A crash or a hang kills the process: the parent (fuzz.test.ts) then saves the input in MRIGAN_FUZZ_CURRENT.
//   node dist/test/fuzz/run.js TARGET N SEED [LIMIT_MS]   → one JSON line: {target, seed, n, ms, failures}
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { TARGETS, Target } from './targets';
import { rand } from './mutate';

/** test/fuzz/cases in the source tree (this file runs from dist/test/fuzz). */
export const CASES = path.resolve(__dirname, '..', '..', '..', 'test', 'fuzz', 'cases');

export interface Failure { input: string; kind: 'error' | 'slow'; message: string; saved: string }

export function saveCase(target: string, input: Buffer): string {
  fs.mkdirSync(CASES, { recursive: true });
  const f = path.join(CASES, `${target}-${crypto.createHash('sha1').update(input).digest('hex').slice(0, 12)}.bin`);
  if (!fs.existsSync(f)) fs.writeFileSync(f, input);
  return f;
}

export async function fuzz(t: Target, n: number, seed: number, limitMs = 2000): Promise<{ target: string; seed: number; n: number; cases: number; ms: number; slowest: number; failures: Failure[]; note?: string }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `mrigan-fuzz-${t.name}-`));
  const current = process.env.MRIGAN_FUZZ_CURRENT;
  const failures: Failure[] = [];
  let slowest = 0;
  const t0 = Date.now();
  const one = async (input: Buffer) => {
    if (current) fs.writeFileSync(current, input);
    const s = Date.now();
    try {
      await t.run(input, tmp);
    } catch (e) {
      if (!t.known(e)) {
        const msg = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
        failures.push({ input: input.toString('base64').slice(0, 200), kind: 'error', message: msg.slice(0, 2000), saved: saveCase(t.name, input) });
      }
    }
    const ms = Date.now() - s;
    slowest = Math.max(slowest, ms);
    if (ms > limitMs) failures.push({ input: input.toString('base64').slice(0, 200), kind: 'slow', message: `${ms} ms > ${limitMs} ms`, saved: saveCase(t.name, input) });
  };
  try {
    const saved = fs.existsSync(CASES) ? fs.readdirSync(CASES).filter((f) => f.startsWith(`${t.name}-`)).sort() : [];
    for (const f of saved) await one(fs.readFileSync(path.join(CASES, f)));
    const seeds = await t.seeds(tmp);
    for (const s of seeds) await one(s); // the valid seeds themselves must parse
    const r = rand(seed);
    for (let i = 0; i < n; i++) await one(t.mutate(r, seeds[i % seeds.length], seeds));
    return { target: t.name, seed, n, cases: saved.length, ms: Date.now() - t0, slowest, failures, note: t.note?.() };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [name, n, seed, limit] = process.argv.slice(2);
  const t = TARGETS.find((x) => x.name === name);
  if (!t) {
    process.stderr.write(`usage: run.js TARGET N SEED [LIMIT_MS]; targets: ${TARGETS.map((x) => x.name).join(', ')}\n`);
    process.exit(2);
  }
  fuzz(t, Number(n ?? 1000), Number(seed ?? 1), Number(limit ?? 2000)).then((res) => {
    process.stdout.write(JSON.stringify(res) + '\n');
    process.exit(res.failures.length ? 1 : 0);
  });
}
