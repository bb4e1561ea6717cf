// `dcgan`: Radford's DCGAN scaled to 256 (docs/design.md §4). Channels are tied to resolution: at r×r a feature map has
// width·128/r channels (width 32: 32 at 128×128 … 1024 at 4×4), so sizes 64 and 128 drop the highest-resolution
// layers and dcgan at 64 is Radford's original 64×64 network. Generators take z as [n, latent].
// Layer order = bench/reference/models.py (same PyTorch state_dict names).
import { Sequential, Layer, ConvTranspose2d, Conv2d, ReLU, LeakyReLU, Tanh, Dropout, Flatten, Reshape, TORCH_BN } from '../nn';
import { ModelOptions, checkSize, positiveInt, rngs, finish, batchNorm } from './common';

const ARCH = 'dcgan';

/** Channels at r×r (r ≤ 128, so an integer for any integer width). */
const channelsAt = (r: number, width: number): number => (width * 128) / r;

function common(o: ModelOptions): { size: number; C: number; width: number; p: number } {
  const size = checkSize(ARCH, o.size ?? 256);
  return { size, C: positiveInt(ARCH, 'channels', o.channels ?? 1), width: positiveInt(ARCH, 'width', o.width ?? 32), p: o.dropout ?? 0 };
}

/** z [n, latent] → ConvT(k4 s1 p0) 4×4 → [ConvT(k4 s2 p1, no bias) → BN → ReLU] … → ConvT(k4 s2 p1) → tanh. */
export function dcganGenerator(o: ModelOptions = {}): Sequential {
  const { size, C, width } = common(o);
  const latent = positiveInt(ARCH, 'latent', o.latent ?? 100);
  const dev = o.device, bn = { ...(o.bn ?? TORCH_BN), device: dev };
  const ch: number[] = [];
  for (let r = 4; r < size; r *= 2) ch.push(channelsAt(r, width));
  const L: Layer[] = [new Reshape([latent, 1, 1]),
    new ConvTranspose2d(latent, ch[0], 4, { stride: 1, padding: 0, bias: false, device: dev }), batchNorm(o, 2, ch[0], bn), new ReLU()];
  for (let i = 1; i < ch.length; i++)
    L.push(new ConvTranspose2d(ch[i - 1], ch[i], 4, { stride: 2, padding: 1, bias: false, device: dev }), batchNorm(o, 2, ch[i], bn), new ReLU());
  L.push(new ConvTranspose2d(ch[ch.length - 1], C, 4, { stride: 2, padding: 1, bias: false, device: dev }), new Tanh());
  return finish(new Sequential(L), o, rngs(o, true).init, 'normal');
}

/**
 * x [n, C, size, size] → Conv(k4 s2 p1) → LReLU(0.2) → Dropout → [Conv(k4 s2 p1) → BN → LReLU(0.2) → Dropout] …
 * → Conv(k4 s1 p0) → flatten: logit [n, 1]. bn = false: the textbook WGAN-GP critic (no BN, biases on).
 */
function discriminator(o: ModelOptions, bnOn: boolean): Sequential {
  const { size, C, width, p } = common(o);
  const dev = o.device, bn = { ...(o.bn ?? TORCH_BN), device: dev };
  const { init, drop } = rngs(o, false);
  const ch: number[] = [];
  for (let r = size / 2; r >= 4; r /= 2) ch.push(channelsAt(r, width));
  const L: Layer[] = [new Conv2d(C, ch[0], 4, { stride: 2, padding: 1, device: dev }), new LeakyReLU(0.2), new Dropout(p, drop)];
  for (let i = 1; i < ch.length; i++) {
    L.push(new Conv2d(ch[i - 1], ch[i], 4, { stride: 2, padding: 1, bias: !bnOn, device: dev }));
    if (bnOn) L.push(batchNorm(o, 2, ch[i], bn));
    L.push(new LeakyReLU(0.2), new Dropout(p, drop));
  }
  L.push(new Conv2d(ch[ch.length - 1], 1, 4, { stride: 1, padding: 0, device: dev }), new Flatten());
  return finish(new Sequential(L), o, init, 'normal');
}

export const dcganDiscriminator = (o: ModelOptions = {}): Sequential => discriminator(o, true);
/** The textbook WGAN-GP critic (Gulrajani et al.): the discriminator without BN, biases everywhere, linear score. */
export const dcganCritic = (o: ModelOptions = {}): Sequential => discriminator(o, false);
