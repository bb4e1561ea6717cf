// Images from a generator without side effects: the samples of a run, `mrigan sample`, and the generated side of
// every in-training evaluation (quality, FID).
import { Device, Rng } from '../engine';
import { Sequential, Layer, Dropout, SyncBatchNorm } from '../nn';
import { TrainConfig } from './config';

/**
 * n images from G, noise from rng, in chunks of up to 64. bn 'batch' (default): BatchNorm normalises with each
 * chunk's statistics, as the PyTorch DCGAN example samples (early in training the running statistics are far from
 * the batch ones and give flat images); running statistics and counters are restored afterwards, so sampling has no
 * side effects. bn 'running': eval mode. Dropout is off either way.
 */
export function generate(G: Sequential, cfg: TrainConfig, latent: number, n: number, rng: Rng, device: Device,
  bn: 'batch' | 'running' = 'batch') {
  const per = cfg.channels * cfg.size * cfg.size, data = new Float32Array(n * per);
  generateChunks(G, cfg, latent, n, rng, device, bn, (chunk, at) => data.set(chunk, at * per));
  return { data, n, c: cfg.channels, h: cfg.size, w: cfg.size };
}

/**
 * generate() without holding all n images: `sink(images, at)` receives each chunk (k images from index `at`,
 * a view valid during the call). The same chunks, noise and results as generate(G, …, n, rng).
 */
export function generateChunks(G: Sequential, cfg: TrainConfig, latent: number, n: number, rng: Rng, device: Device,
  bn: 'batch' | 'running', sink: (images: Float32Array, at: number) => void): void {
  const wasTraining = G.training;
  const saved = G.buffers().map((b) => b.value.clone());
  const counters = [...G.counters().values()].map((c) => c.get());
  G.train(bn === 'batch');
  // sampling is local to the rank that samples: SyncBatchNorm must not wait for the other ranks
  const unsynced: [SyncBatchNorm, SyncBatchNorm['reduce']][] = [];
  const walk = (l: Layer): void => {
    if (l instanceof Sequential) l.layers.forEach(walk);
    else if (l instanceof Dropout) l.eval();
    else if (l instanceof SyncBatchNorm) { unsynced.push([l, l.reduce]); l.reduce = () => {}; }
  };
  walk(G);
  const per = cfg.channels * cfg.size * cfg.size;
  try {
    const chunks = Math.ceil(n / 64);
    for (let c = 0, at = 0; c < chunks; c++) {
      const k = Math.floor((n * (c + 1)) / chunks) - at;
      const z = rng.normal([Math.max(k, 2), latent], device); // BatchNorm needs two samples
      const y = G.forward(z);
      sink(y.toFloat32Array().subarray(0, k * per), at);
      G.release();
      y.dispose();
      z.dispose();
      at += k;
    }
  } finally {
    G.buffers().forEach((b, i) => b.value.copyFrom(saved[i]));
    [...G.counters().values()].forEach((c, i) => c.set(counters[i]));
    for (const t of saved) t.dispose();
    for (const [l, r] of unsynced) l.reduce = r;
    G.train(wasTraining);
  }
}
