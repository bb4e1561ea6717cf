// Layers, Sequential, initialisation, Adam and safetensors I/O (docs/design.md §3–§5).
export * from './layer';
export * from './dense';
export * from './conv';
export * from './norm';
export * from './sync_norm';
export * from './act';
export * from './dropout';
export * from './shape';
export * from './sequential';
export * from './init';
export * from './adam';
export * from './safetensors';
export * from './tangent';
