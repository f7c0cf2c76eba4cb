// easel as a library: start the server inside your own process (the `easel serve` command does
// the same from the environment), optionally with providers of your own. `import … from 'easel'`
// loads this (bundled as dist/bin/index.js); the typed HTTP client is `easel/client`.
export { startEasel, type EaselServer, type StartOptions } from './server.js';
export { loadConfig, ConfigError, type Config, type Role } from './config.js';
export { singleProviderRegistry, type ProviderRegistry } from './providers/provider-registry.js';
export type { ImageProviderV1, ImageCallOptions, ImageCallResult, GeneratedImage } from './providers/spec.js';
