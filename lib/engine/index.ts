// The engine: tensors and typed ops over the native addon.
export * from './tensor';
export { addonPath } from './native';
export * from './ops/elementwise';
export * from './ops/act';
export * from './ops/rng';
export * from './ops/conv';
export * from './ops/dense';
export * from './ops/norm';
export * from './ops/loss';
export * from './ops/adam';
export * from './ops/gp';
export * from './ops/rop';
export * from './ops/pool';
/** GPU controls: TF32, conv algorithms, memory statistics, fused conv + activation. */
export * as cuda from './cuda';
