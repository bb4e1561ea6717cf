// Data-parallel training: the world of ranks, collectives, gradient buckets, parameter broadcast, data shards.
export * from './world';
export * from './collectives';
export * from './buckets';
export * from './params';
export * from './shard';
