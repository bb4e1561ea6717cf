// GAN initialisation (docs/design.md §4): conv/dense weights N(0, 0.02), BatchNorm γ N(1, 0.02) (or 1, Keras), β = 0,
// biases 0. Draws use the engine's Philox normal, so a (seed, stream) gives the same weights on CPU and GPU.
// Parameters are visited in params() order; each draw advances the Rng past the previous one.
import { Tensor, Rng, fill, axpy } from '../engine';
import { Layer } from './layer';

export interface InitOptions {
  /** Standard deviation of weights and of γ around 1 (default 0.02). */
  std?: number;
  /** 'normal': γ ~ N(1, std) (PyTorch DCGAN recipe, default); 'ones': γ = 1 (Keras default). */
  bnGamma?: 'normal' | 'ones';
}

/** t ← mean + std·N(0, 1), drawn from rng. */
export function normalInit(t: Tensor, rng: Rng, mean: number, std: number): void {
  const z = rng.normal(t.shape, t.device);
  fill(t, mean);
  axpy(std, z, t);
  z.dispose();
}

export function ganInit(model: Layer, rng: Rng, o: InitOptions = {}): void {
  const std = o.std ?? 0.02;
  const gamma = o.bnGamma ?? 'normal';
  for (const p of model.params()) {
    if (p.role === 'weight') normalInit(p.value, rng, 0, std);
    else if (p.role === 'gamma' && gamma === 'normal') normalInit(p.value, rng, 1, std);
    else fill(p.value, p.role === 'gamma' ? 1 : 0);
  }
}
