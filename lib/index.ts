// mrigan: the public TypeScript API.
export * from './engine';
