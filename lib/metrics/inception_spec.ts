// The convolution units of Keras' InceptionV3 (keras.applications.inception_v3, include_top = False) in creation
// order: each unit is conv2d (no bias) → BatchNormalization(scale = False, ε = 1e-3) → ReLU. The weight reader pairs
// a file's conv2d_N / batch_normalization_N layers with these by creation number and checks every shape; the
// feature extractor (later) builds the graph from the same list. `div` divides every channel count (tests use
// small stand-ins with the same structure; the real network has div = 1).

export interface ConvUnit {
  /** Where it sits, e.g. 'mixed4/branch7x7dbl_3' (for error messages). */
  block: string;
  kh: number;
  kw: number;
  cin: number;
  cout: number;
  stride: 1 | 2;
  padding: 'same' | 'valid';
}

export function inceptionV3Units(div = 1): ConvUnit[] {
  const units: ConvUnit[] = [];
  const c = (n: number): number => {
    if (n % div !== 0) throw new Error(`inceptionV3Units: ${n} channels not divisible by ${div}`);
    return n / div;
  };
  const u = (block: string, cin: number, cout: number, kh: number, kw: number, stride: 1 | 2 = 1, padding: 'same' | 'valid' = 'same'): number => {
    units.push({ block, kh, kw, cin: block === 'stem/conv1' ? 3 : c(cin), cout: c(cout), stride, padding });
    return cout;
  };
  let x = u('stem/conv1', 3, 32, 3, 3, 2, 'valid');
  x = u('stem/conv2', x, 32, 3, 3, 1, 'valid');
  x = u('stem/conv3', x, 64, 3, 3);
  x = u('stem/conv4', x, 80, 1, 1, 1, 'valid');
  x = u('stem/conv5', x, 192, 3, 3, 1, 'valid');
  // mixed0..2: 35×35
  for (const [i, pool] of [[0, 32], [1, 64], [2, 64]] as const) {
    const b = `mixed${i}`;
    u(`${b}/branch1x1`, x, 64, 1, 1);
    u(`${b}/branch5x5_1`, x, 48, 1, 1); u(`${b}/branch5x5_2`, 48, 64, 5, 5);
    u(`${b}/branch3x3dbl_1`, x, 64, 1, 1); u(`${b}/branch3x3dbl_2`, 64, 96, 3, 3); u(`${b}/branch3x3dbl_3`, 96, 96, 3, 3);
    u(`${b}/branch_pool`, x, pool, 1, 1);
    x = 64 + 64 + 96 + pool;
  }
  // mixed3: 35×35 → 17×17
  u('mixed3/branch3x3', x, 384, 3, 3, 2, 'valid');
  u('mixed3/branch3x3dbl_1', x, 64, 1, 1); u('mixed3/branch3x3dbl_2', 64, 96, 3, 3); u('mixed3/branch3x3dbl_3', 96, 96, 3, 3, 2, 'valid');
  x = 384 + 96 + x;
  // mixed4..7: 17×17 with 7×1 / 1×7 factorised convs
  for (const [i, m] of [[4, 128], [5, 160], [6, 160], [7, 192]] as const) {
    const b = `mixed${i}`;
    u(`${b}/branch1x1`, x, 192, 1, 1);
    u(`${b}/branch7x7_1`, x, m, 1, 1); u(`${b}/branch7x7_2`, m, m, 1, 7); u(`${b}/branch7x7_3`, m, 192, 7, 1);
    u(`${b}/branch7x7dbl_1`, x, m, 1, 1); u(`${b}/branch7x7dbl_2`, m, m, 7, 1); u(`${b}/branch7x7dbl_3`, m, m, 1, 7);
    u(`${b}/branch7x7dbl_4`, m, m, 7, 1); u(`${b}/branch7x7dbl_5`, m, 192, 1, 7);
    u(`${b}/branch_pool`, x, 192, 1, 1);
    x = 768;
  }
  // mixed8: 17×17 → 8×8
  u('mixed8/branch3x3_1', x, 192, 1, 1); u('mixed8/branch3x3_2', 192, 320, 3, 3, 2, 'valid');
  u('mixed8/branch7x7x3_1', x, 192, 1, 1); u('mixed8/branch7x7x3_2', 192, 192, 1, 7); u('mixed8/branch7x7x3_3', 192, 192, 7, 1);
  u('mixed8/branch7x7x3_4', 192, 192, 3, 3, 2, 'valid');
  x = 320 + 192 + x;
  // mixed9, mixed10: 8×8
  for (const i of [9, 10]) {
    const b = `mixed${i}`;
    u(`${b}/branch1x1`, x, 320, 1, 1);
    u(`${b}/branch3x3`, x, 384, 1, 1); u(`${b}/branch3x3_1`, 384, 384, 1, 3); u(`${b}/branch3x3_2`, 384, 384, 3, 1);
    u(`${b}/branch3x3dbl_1`, x, 448, 1, 1); u(`${b}/branch3x3dbl_2`, 448, 384, 3, 3);
    u(`${b}/branch3x3dbl_3a`, 384, 384, 1, 3); u(`${b}/branch3x3dbl_3b`, 384, 384, 3, 1);
    u(`${b}/branch_pool`, x, 192, 1, 1);
    x = 320 + 768 + 768 + 192;
  }
  return units;
}

/** 94 units; the pooled feature is 2048-d. */
export const INCEPTION_V3_UNITS = 94;
export const INCEPTION_V3_FEATURES = 2048;
