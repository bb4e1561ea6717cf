// Philox4x32-10 draws addressed by (seed, stream, offset); see native/core/philox.h for the exact layout.
import { native } from '../native';
import { Device, Shape, Tensor } from '../tensor';

export interface RngState {
  seed: number | bigint;
  stream: number;
  /** In Philox blocks of 4 values: a draw of n elements consumes ceil(n / 4) blocks. */
  offset: number;
}

export const philoxBlocks = (n: number): number => Math.ceil(n / 4);

export const randUniform = (shape: Shape, rng: RngState, device: Device = 'cpu'): Tensor =>
  new Tensor(native().randUniform([...shape], rng.seed, rng.stream, rng.offset, device));
export const randNormal = (shape: Shape, rng: RngState, device: Device = 'cpu'): Tensor =>
  new Tensor(native().randNormal([...shape], rng.seed, rng.stream, rng.offset, device));

/** Raw Philox4x32-10: counter (4 words) and key (2 words) → 4 words. For known-answer tests. */
export const philox4x32 = (counter: [number, number, number, number], key: [number, number]): number[] =>
  native().philox4x32(counter, key);

/** A stream that advances its offset after each draw, so successive draws never overlap. */
export class Rng implements RngState {
  constructor(public seed: number | bigint, public stream: number, public offset = 0) {}
  /** Returns the state for a draw of n elements and advances past it. */
  take(n: number): RngState {
    const s = { seed: this.seed, stream: this.stream, offset: this.offset };
    this.offset += philoxBlocks(n);
    return s;
  }
  uniform(shape: Shape, device: Device = 'cpu'): Tensor { return randUniform(shape, this.take(shape.reduce((a, b) => a * b, 1)), device); }
  normal(shape: Shape, device: Device = 'cpu'): Tensor { return randNormal(shape, this.take(shape.reduce((a, b) => a * b, 1)), device); }
}
