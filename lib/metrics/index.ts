// Generative-model metrics: feature statistics, FID (trace term in float64 TypeScript), KID, PRDC, pytorch-fid
// .npz interop, the Keras-HDF5 InceptionV3 weight reader and the per-weight-set input preprocessing.
export * from './stats';
export * from './eigen';
export { gemm, view, cholesky, pivotedCholesky, symmetrizeFromLower } from './linalg';
export type { MatView, PivotedCholesky } from './linalg';
export * from './fid';
export * from './kid';
export * from './prdc';
export * from './npz';
export * from './preprocess';
export * from './inception_spec';
export * from './keras_h5';
export { SubsetRng } from './rng';
export * from './inception';
