// Every Philox stream of the project in one table (docs/design.md §3: draws are addressed by (seed, stream, offset), seed =
// the run's seed). Distinct streams never overlap, so each consumer draws independent numbers, and a checkpoint
// holds each stream's offset. Add a row here for any new consumer; never reuse a number.
export const STREAMS = {
  /** Weight initialisation (lib/models). */
  generatorInit: 101,
  discriminatorInit: 102,
  /** Dropout masks (lib/models' Dropout layers). */
  generatorDropout: 201,
  discriminatorDropout: 202,
  /** Training (lib/train): latent noise, label noise, the penalty's ε, the fixed sample grid, `mrigan sample`, evaluations. */
  noise: 301,
  labels: 302,
  gp: 303,
  fixedNoise: 304,
  sample: 305,
  /** The generated side of the in-training quality evaluations (--eval-every). */
  evalNoise: 306,
  /** The generated side of the in-training FID (--fid-every): the same noise at every evaluation of a run. */
  fidNoise: 307,
} as const;
