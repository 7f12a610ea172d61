import type { BlobStore } from './blob-store.js';
import type { Bus } from './bus/index.js';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import type { TokenService } from './auth/tokens.js';
import type { EventPublisher } from './events.js';
import type { Logger } from './logger.js';

/** Everything a process needs to serve requests; built once in server.ts, passed down. */
export interface ServiceContext {
  config: Config;
  db: Db;
  bus: Bus;
  tokens: TokenService;
  publish: EventPublisher;
  logger: Logger;
  blobs: BlobStore;
}
