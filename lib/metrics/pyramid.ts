// Gaussian / Laplacian image pyramids as in Karras et al.'s sliced_wasserstein.py (progressive GAN): the 5-tap
// binomial filter [1 4 6 4 1]/16 in each direction, borders mirrored about the edge pixel (scipy.ndimage 'mirror':
// d c b | a b c d | c b a), down = filter then keep even pixels, up = zeros between pixels then filter × 4.
// Planes are single-channel h×w float32 arrays; callers loop over channels.

const TAPS = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

/** Index i reflected into 0..n-1 about the edge pixels (scipy 'mirror'); n = 1 maps everything to 0. */
export function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const p = 2 * (n - 1);
  i = ((i % p) + p) % p;
  return i < n ? i : p - i;
}

/** Separable 5-tap binomial blur of an h×w plane with mirrored borders, each output multiplied by `gain`. */
export function blur(src: Float32Array, h: number, w: number, gain = 1): Float32Array {
  const tmp = new Float32Array(h * w), out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += TAPS[k] * src[row + mirror(x + k - 2, w)];
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += TAPS[k] * tmp[mirror(y + k - 2, h) * w + x];
      out[y * w + x] = s * gain;
    }
  return out;
}

/** Blur, then keep pixels (2i, 2j): h×w → ceil(h/2)×ceil(w/2). */
export function pyrDown(src: Float32Array, h: number, w: number): { data: Float32Array; h: number; w: number } {
  const b = blur(src, h, w), H = Math.ceil(h / 2), W = Math.ceil(w / 2), out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = b[2 * y * w + 2 * x];
  return { data: out, h: H, w: W };
}

/** Zeros between pixels (h×w → 2h×2w), then blur × 4 so that a constant plane stays constant. */
export function pyrUp(src: Float32Array, h: number, w: number): { data: Float32Array; h: number; w: number } {
  const H = 2 * h, W = 2 * w, z = new Float32Array(H * W);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) z[2 * y * W + 2 * x] = src[y * w + x];
  return { data: blur(z, H, W, 4), h: H, w: W };
}

/**
 * Laplacian pyramid of an h×w plane (h, w divisible by 2^(levels−1)): levels−1 band-pass planes
 * L_k = G_k − up(down(G_k)) at h/2^k, then the low-pass G_(levels−1). Summing the expanded levels gives the image back.
 */
export function laplacianPyramid(src: Float32Array, h: number, w: number, levels: number): { data: Float32Array; h: number; w: number }[] {
  if (!(Number.isInteger(levels) && levels >= 1)) throw new RangeError(`laplacianPyramid: levels must be a positive integer, got ${levels}`);
  if (h % 2 ** (levels - 1) !== 0 || w % 2 ** (levels - 1) !== 0)
    throw new RangeError(`laplacianPyramid: ${h}×${w} is not divisible by 2^${levels - 1}`);
  const out: { data: Float32Array; h: number; w: number }[] = [];
  let g = { data: src, h, w };
  for (let k = 0; k + 1 < levels; k++) {
    const d = pyrDown(g.data, g.h, g.w), u = pyrUp(d.data, d.h, d.w), band = new Float32Array(g.h * g.w);
    for (let i = 0; i < band.length; i++) band[i] = g.data[i] - u.data[i];
    out.push({ data: band, h: g.h, w: g.w });
    g = d;
  }
  out.push(g);
  return out;
}
