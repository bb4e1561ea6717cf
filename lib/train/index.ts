// Training: configuration and presets, the DCGAN / WGAN-GP loops, the exact gradient penalty, checkpoints, samples.
export * from './config';
export * from './run';
export * from './step';
export * from './penalty';
export * from './checkpoint';
export * from './fid';
export * from './best';
export { generate } from './generate';
export { imagePng, gridPng, readPng, writeImagePng, writeGridPng } from './image';
export type { ImageBatch } from './image';
export { lossCurvePng, writeLossCurve } from './plot';
export type { Series } from './plot';
export { writeFileAtomic, JsonLines, readJsonLines } from './fsutil';
export { EpochProgress } from './progress';
