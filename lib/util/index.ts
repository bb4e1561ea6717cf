export * from './fs';
export * from './prng';
export * from './device';
export * from './errors';
export * from './streams';
