// Public surface of the Go-module mechanics library. Pure: no Nest, no network.
export * from './errors';
export * from './module-path';
export * from './semver';
export * from './gomod-file';
export * from './h1-hash';
export * from './zip-check';
export * from './zip-create';
