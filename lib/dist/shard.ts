// Disjoint data shards: each global batch of the shared permutation is split into `size` equal slices.
/**
 * This rank's sample indices for an epoch, in step order: for global batch k (entries k·batch … (k+1)·batch − 1
 * of the permutation, complete batches only, like the trainer), rank r takes the slice
 * [r·batch/size, (r+1)·batch/size). The ranks' shards are disjoint and their union is every complete batch.
 * `batch` is the global batch (--batch) and must be divisible by size.
 */
export function shardIndices(globalPermutation: ArrayLike<number>, batch: number, rank: number, size: number): Int32Array {
  if (!Number.isInteger(size) || size < 1) throw new Error(`shardIndices: size must be a positive integer, got ${size}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new Error(`shardIndices: rank ${rank} is not in [0, ${size})`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${batch}`);
  if (batch % size !== 0) {
    throw new Error(`--batch ${batch} (the global batch) is not divisible by the ${size} ranks; ` +
      `use a multiple of ${size}, e.g. --batch ${Math.max(size, Math.round(batch / size) * size)}`);
  }
  const per = batch / size;
  const steps = Math.floor(globalPermutation.length / batch);
  const out = new Int32Array(steps * per);
  for (let k = 0; k < steps; k++)
    for (let j = 0; j < per; j++) out[k * per + j] = globalPermutation[k * batch + rank * per + j];
  return out;
}
