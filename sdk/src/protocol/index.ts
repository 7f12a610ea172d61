/**
 * `@sesamespace/sdk/protocol` — the Sesame wire protocol: realtime frames, close codes and event
 * names, REST bodies, and Problem Details errors. The api and the gateway import this module;
 * nothing else defines the wire.
 */
export * from './broker.js';
export * from './close-codes.js';
export * from './events.js';
export * from './frames.js';
export * from './problem.js';
export * from './rest.js';
export * from './schedules.js';
export * from './tasks.js';
export * from './vault.js';
export * from './webhooks.js';
