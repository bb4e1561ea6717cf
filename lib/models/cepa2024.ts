// `cepa2024`: the reference system's published topology (Cepa, Brito, Sousa 2024; docs/design.md §4), Keras defaults:
// biases everywhere, BatchNorm eps 1e-3 / momentum 0.99 (0.01 here), γ = 1. Sizes 64 and 128 drop the
// highest-resolution layers: the generator keeps its 4×4×1024 head and drops the last upsampling blocks (filters
// 512, 256, … cut short, then C); the discriminator keeps the blocks whose output is below size/2, so every
// resolution has the same filters as at 256, and its first (no-BN) conv has the filters of the size/2 block.
// Generators take z as [n, latent]. Layer order = bench/reference/models.py (same PyTorch state_dict names).
import {
  Sequential, Layer, Dense, ConvTranspose2d, Conv2d, LeakyReLU, Sigmoid, Tanh, Dropout, Flatten, Reshape, KERAS_BN,
} from '../nn';
import { ModelOptions, checkSize, positiveInt, rngs, finish, batchNorm } from './common';

const ARCH = 'cepa2024';
const G_FILTERS = [512, 256, 128, 64, 32];
/** [filters, kernel, stride, output resolution at 256] after the first Conv(32, k4 s2) [128]. */
const D_BLOCKS: [number, number, number, number][] = [
  [64, 4, 2, 64], [128, 4, 2, 32], [256, 4, 2, 16], [256, 3, 1, 16], [512, 4, 2, 8], [512, 3, 1, 8], [1024, 4, 2, 4],
];
const D_FIRST: Record<number, number> = { 256: 32, 128: 64, 64: 128 };

/** Filters scaled by width/32 (every pinned filter count is a multiple of 32, so an integer for any integer width). */
const scaled = (f: number, width: number): number => (f * width) / 32;

function common(o: ModelOptions): { size: number; C: number; width: number; p: number } {
  const size = checkSize(ARCH, o.size ?? 256);
  return { size, C: positiveInt(ARCH, 'channels', o.channels ?? 1), width: positiveInt(ARCH, 'width', o.width ?? 32), p: o.dropout ?? 0.2 };
}

/**
 * z [n, latent] → Dense(4·4·1024) → BN1d → reshape 1024×4×4 → [ConvT(k4 s2 p1) → BN → Dropout → LReLU(0.2)] ×
 * (512, 256, 128, 64, 32, C at 256) → ConvT(C, k3 s1 p1) → Dropout → tanh.
 */
export function cepa2024Generator(o: ModelOptions = {}): Sequential {
  const { size, C, width, p } = common(o);
  const latent = positiveInt(ARCH, 'latent', o.latent ?? 128);
  const dev = o.device, bn = { ...(o.bn ?? KERAS_BN), device: dev };
  const { init, drop } = rngs(o, true);
  const nUp = Math.log2(size / 4);
  const head = scaled(1024, width);
  const filters = [...G_FILTERS.slice(0, nUp - 1).map((f) => scaled(f, width)), C];
  const L: Layer[] = [new Dense(latent, head * 16, { device: dev }), batchNorm(o, 1, head * 16, bn), new Reshape([head, 4, 4])];
  let cin = head;
  for (const f of filters) {
    L.push(new ConvTranspose2d(cin, f, 4, { stride: 2, padding: 1, device: dev }), batchNorm(o, 2, f, bn), new Dropout(p, drop), new LeakyReLU(0.2));
    cin = f;
  }
  L.push(new ConvTranspose2d(cin, C, 3, { stride: 1, padding: 1, device: dev }), new Dropout(p, drop), new Tanh());
  return finish(new Sequential(L), o, init, 'ones');
}

/**
 * x [n, C, size, size] → Conv(32, k4 s2 p1) → LReLU(0.2) → [Conv → BN → LReLU(0.2)] × (64 k4 s2, 128 k4 s2, 256 k4 s2,
 * 256 k3 s1, 512 k4 s2, 512 k3 s1, 1024 k4 s2) → Conv(1024, k3 s1 p1) → BN → sigmoid → flatten → Dense(1): [n, 1].
 * The paper's WGAN-GP critic is this same network. 'same' padding is p1 for both k4 s2 and k3 s1 on even sizes.
 */
export function cepa2024Discriminator(o: ModelOptions = {}): Sequential {
  const { size, C, width } = common(o);
  const dev = o.device, bn = { ...(o.bn ?? KERAS_BN), device: dev };
  const first = scaled(D_FIRST[size], width);
  const L: Layer[] = [new Conv2d(C, first, 4, { stride: 2, padding: 1, device: dev }), new LeakyReLU(0.2)];
  let cin = first;
  for (const [f0, k, s, res] of D_BLOCKS) {
    if (res >= size / 2) continue;
    const f = scaled(f0, width);
    L.push(new Conv2d(cin, f, k, { stride: s, padding: 1, device: dev }), batchNorm(o, 2, f, bn), new LeakyReLU(0.2));
    cin = f;
  }
  const top = scaled(1024, width);
  L.push(new Conv2d(cin, top, 3, { stride: 1, padding: 1, device: dev }), batchNorm(o, 2, top, bn), new Sigmoid(), new Flatten(),
    new Dense(top * 16, 1, { device: dev }));
  return finish(new Sequential(L), o, rngs(o, false).init, 'ones');
}
