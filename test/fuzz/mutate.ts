// Mutations for the fuzzers: byte-level (flip, set to boundary values, insert, delete, truncate, splice, overwrite a
// 32/64-bit field with an edge integer) and JSON-level (replace a value by one of another type or an edge value,
// delete or duplicate a key), all driven by one seeded mulberry32 so a run replays from its seed.
import { mulberry32 } from '../../lib/util/prng';

export type Rand = () => number;
export const rand = (seed: number): Rand => mulberry32(seed);
const pick = <T>(r: Rand, a: readonly T[]): T => a[Math.floor(r() * a.length)];
const int = (r: Rand, n: number): number => Math.floor(r() * n);

const EDGE32 = [0, 1, 0xff, 0x7f, 0x80, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 348, 540, 4096, 0x10000];
const EDGE_BYTES = [0, 1, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x22, 0x7b, 0x7d, 0x2c, 0x30];

/** One to four byte-level mutations of `b` (a copy). */
export function mutateBytes(r: Rand, b: Buffer, pool: Buffer[] = []): Buffer {
  let x = Buffer.from(b);
  const k = 1 + int(r, 4);
  for (let m = 0; m < k; m++) {
    const n = x.length;
    const at = n ? int(r, n) : 0;
    switch (int(r, 9)) {
      case 0: if (n) x[at] ^= 1 << int(r, 8); break;
      case 1: if (n) x[at] = pick(r, EDGE_BYTES); break;
      case 2: if (n) x[at] = int(r, 256); break;
      case 3: { // overwrite an aligned-ish 32-bit field with an edge value, either byte order
        if (n >= 4) {
          const p = Math.min(n - 4, at & ~1), v = pick(r, EDGE32);
          if (r() < 0.5) x.writeUInt32LE(v >>> 0, p); else x.writeUInt32BE(v >>> 0, p);
        }
        break;
      }
      case 4: { // 64-bit edge (safetensors length, dataset offsets)
        if (n >= 8) x.writeBigUInt64LE(pick(r, [0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, BigInt(n), BigInt(n + 8)]), Math.min(n - 8, at));
        break;
      }
      case 5: x = Buffer.concat([x.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(r, 16) }, () => int(r, 256))), x.subarray(at)]); break;
      case 6: x = Buffer.concat([x.subarray(0, at), x.subarray(Math.min(n, at + 1 + int(r, 64)))]); break;
      case 7: x = x.subarray(0, int(r, n + 1)); break; // truncate
      case 8: { // splice in a piece of another seed (or of itself)
        const src = pool.length ? pick(r, pool) : x;
        if (src.length) {
          const s = int(r, src.length), len = 1 + int(r, Math.min(256, src.length - s));
          x = Buffer.concat([x.subarray(0, at), src.subarray(s, s + len), x.subarray(Math.min(n, at + len))]);
        }
        break;
      }
    }
  }
  return x;
}

const EDGE_JSON: unknown[] = [null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 53, 2 ** 31, '', 'x', '../../etc', [], {}, [1, 2], { a: 1 }, 'NaN', '\n'];

/** An edge value, copied (a shared object inserted twice could end up inside itself). */
const edge = (r: Rand): unknown => structuredClone(pick(r, EDGE_JSON));

/** One to three structural mutations of a JSON value (a copy). */
export function mutateJson(r: Rand, v: unknown): unknown {
  const root = JSON.parse(JSON.stringify(v)) as unknown;
  const k = 1 + int(r, 3);
  let out = root;
  for (let m = 0; m < k; m++) {
    // walk to a random container
    const paths: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
    const walk = (x: unknown, depth: number) => {
      if (depth > 6 || x === null || typeof x !== 'object') return;
      for (const key of Object.keys(x)) {
        const kk = Array.isArray(x) ? Number(key) : key;
        paths.push({ parent: x as Record<string, unknown>, key: kk });
        walk((x as Record<string, unknown>)[key], depth + 1);
      }
    };
    walk(out, 0);
    if (!paths.length) { out = edge(r); continue; }
    const { parent, key } = pick(r, paths);
    const p = parent as Record<string | number, unknown>;
    switch (int(r, 5)) {
      case 0: p[key] = edge(r); break;
      case 1: if (Array.isArray(parent)) parent.splice(key as number, 1); else delete p[key]; break;
      case 2: if (typeof p[key] === 'number') p[key] = (p[key] as number) * pick(r, [-1, 2, 1e6, 0.5]) + pick(r, [0, 1, -1]); else p[key] = edge(r); break;
      case 3: if (Array.isArray(p[key])) (p[key] as unknown[]).push(edge(r)); else p[key] = [p[key]]; break;
      case 4: if (typeof p[key] === 'string') p[key] = (p[key] as string) + pick(r, ['x', '\u0000', '/..', ' ']); else p[key] = String(p[key]); break;
    }
  }
  return out;
}
