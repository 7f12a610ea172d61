import type { Migration } from 'kysely';
import { initialSchema } from './0001-initial-schema.js';
import { driveFiles } from './0002-drive-files.js';

/** Every migration, by sortable name. Append only; never edit a migration that has shipped. */
export const migrations: Record<string, Migration> = {
  '0001-initial-schema': initialSchema,
  '0002-drive-files': driveFiles,
};
