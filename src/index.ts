/** Programmatic API: the same commands and events as the CLI. */
export { defineConfig, loadConfig } from './config/load.js';
export type { ShipConfigInput as ShipConfig } from './config/schema.js';
export type { Stage, HostConfig } from './config/types.js';
export { deploy, rollback } from './commands/deploy.js';
export { releases, prune, unlock } from './commands/releases.js';
export { Events, type ShipEvent } from './events.js';
export * from './errors.js';
