// mulberry32: a small seedable generator for host-side choices (data order, phantom anatomy). Not the training
// noise (that is Philox on the device, lib/engine); identical on every rank and platform for the same seed.

/** Returns a function giving uniform numbers in [0, 1) with 32 random bits each. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
