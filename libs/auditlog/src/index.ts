// The audit log's formats, pure: the hash chain, export files and signed
// manifests. Shared by the registry (which writes them) and the CLI (which
// checks them offline).
export * from './event';
export * from './chain';
export * from './format';
export * from './manifest';
