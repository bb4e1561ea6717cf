// Randomness keyed by global sample index, so a data-parallel run draws what a 1-rank run with the same global
// batch draws (docs/design.md §7). A draw for the global batch covers elements [0, N·per) of a Philox stream, sample
// i owning [i·per, (i + 1)·per); each Philox value depends only on its element index (counter block e/4, lane e%4),
// so rank r draws just its samples [start, start + count) at the right offset, and every rank advances the stream
// past the whole global draw. Offsets count blocks of 4 values: a slice that does not start on a block boundary is
// drawn whole and cut (small draws: latent noise, labels, ε); for layer draws (dropout masks) it is an error.
import { Tensor, Rng, RngState, Shape, Device } from '../engine';

/** This rank's samples of the global batch. */
export interface Shard { start: number; count: number; global: number }

export class ShardedRng extends Rng {
  /** null: a plain stream (one process, or draws that are not per sample). */
  shard: Shard | null = null;

  /** State for this rank's part of a per-sample draw of n local elements; advances past the global draw. */
  take(n: number): RngState {
    const sh = this.shard;
    if (!sh || sh.global === sh.count) return super.take(n);
    const per = n / sh.count;
    if (!Number.isInteger(per)) throw new Error(`ShardedRng: a draw of ${n} values is not per sample of a local batch of ${sh.count}`);
    if ((sh.start * per) % 4 !== 0)
      throw new Error(`ShardedRng: this rank's samples start at value ${sh.start * per} of the draw, not on a Philox block (4 values); choose a per-rank batch or image size that makes it a multiple of 4`);
    const s = super.take(per * sh.global);
    return { ...s, offset: s.offset + (sh.start * per) / 4 };
  }

  uniform(shape: Shape, device: Device = 'cpu'): Tensor { return this.draw(shape, device, (sh, d) => super.uniform(sh, d)); }
  normal(shape: Shape, device: Device = 'cpu'): Tensor { return this.draw(shape, device, (sh, d) => super.normal(sh, d)); }

  /** shape[0] is the local batch: aligned slices are drawn in place, others drawn whole and cut. */
  private draw(shape: Shape, device: Device, plain: (s: Shape, d: Device) => Tensor): Tensor {
    const sh = this.shard;
    if (!sh || sh.global === sh.count) return plain(shape, device);
    if (shape[0] !== sh.count) throw new Error(`ShardedRng: a per-sample draw of shape [${shape}] for a local batch of ${sh.count}`);
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    if ((sh.start * per) % 4 === 0) return plain(shape, device);
    const saved = this.shard;
    this.shard = null;
    try {
      const all = plain([sh.global, ...shape.slice(1)], 'cpu');
      const part = all.toFloat32Array().slice(sh.start * per, (sh.start + sh.count) * per);
      all.dispose();
      return Tensor.fromArray(part, [...shape], device);
    } finally {
      this.shard = saved;
    }
  }
}
