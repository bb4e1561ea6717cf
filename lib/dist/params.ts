// Rank 0's initial parameters to every rank, verified by a checksum that every rank compares.
import { Tensor } from '../engine';
import { allReduceScalars, broadcast } from './collectives';
import { world } from './world';

/** Anything with parameters and (optionally) state buffers: lib/nn layers and models. */
export interface HasParams {
  params(): { name: string; value: Tensor }[];
  buffers?(): { name: string; value: Tensor }[];
}

/**
 * FNV-1a (32-bit) over the float32 bit patterns of the tensors, in order: equal values on every rank after a
 * broadcast give equal checksums, bit for bit. An integer below 2^32, so it travels exactly in a float64.
 */
export function checksum(ts: readonly Tensor[]): number {
  let h = 0x811c9dc5;
  for (const t of ts) {
    const w = new Uint32Array(t.toFloat32Array().buffer);
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i], 0x01000193) >>> 0;
    h = Math.imul(h ^ t.numel, 0x01000193) >>> 0;  // shape boundaries count
  }
  return h >>> 0;
}

function tensorsOf(m: HasParams | readonly Tensor[]): Tensor[] {
  if (Array.isArray(m)) return [...m];
  const h = m as HasParams;
  return [...h.params().map((p) => p.value), ...(h.buffers ? h.buffers().map((b) => b.value) : [])];
}

/**
 * Copies root's parameters and buffers to every rank, then checks that all ranks hold identical values: each rank's
 * checksum is gathered (an all-reduce sum of one slot per rank), and a rank that differs from root is named in the
 * error thrown on every rank. Returns the checksum.
 */
export function broadcastParams(model: HasParams | readonly Tensor[], root = 0): number {
  const w = world();
  const ts = tensorsOf(model);
  broadcast(ts, root);
  const mine = checksum(ts);
  if (w.size === 1) return mine;
  const all = new Float64Array(w.size);
  all[w.rank] = mine;
  allReduceScalars(all, 'sum');
  const bad: number[] = [];
  all.forEach((c, r) => { if (c !== all[root]) bad.push(r); });
  if (bad.length) {
    throw new Error(`broadcastParams: parameter checksum of rank(s) ${bad.join(', ')} ` +
      `(${bad.map((r) => all[r].toString(16)).join(', ')}) differs from rank ${root}'s (${all[root].toString(16)}) ` +
      'after the broadcast: the ranks do not hold the same model (different architecture or shapes?)');
  }
  return mine;
}
