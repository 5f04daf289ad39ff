/** Datasets, loaders and partitioners (decent-bva.md §7); see each module for details. */
export * from './dataset.js';
export * from './dataset-hash.js';
export * from './idx.js';
export * from './images.js';
export * from './mnist-embedded.js';
export * from './synthetic.js';
export * from './registry.js';
export * from './partition.js';
