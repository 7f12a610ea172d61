/**
 * `@sesamespace/sdk/protocol` — the Sesame wire protocol: frames, close codes, event names.
 * The gateway imports this module; nothing else defines the wire.
 */
export * from './close-codes.js';
export * from './events.js';
export * from './frames.js';
