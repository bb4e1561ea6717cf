// mrigan: the public TypeScript API.
export * from './engine';
export * from './nn';
export * from './models';
export * from './train';
export * from './data';
export * as dist from './dist';
