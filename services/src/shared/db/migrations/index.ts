import type { Migration } from 'kysely';
import { initialSchema } from './0001-initial-schema.js';
import { driveFiles } from './0002-drive-files.js';
import { memberJoinedSeq } from './0003-member-joined-seq.js';
import { refreshTokenFamilies } from './0004-refresh-token-families.js';
import { invites } from './0005-invites.js';
import { vault } from './0006-vault.js';
import { tasks } from './0007-tasks.js';
import { schedules } from './0008-schedules.js';
import { webhooks } from './0009-webhooks.js';
import { broker } from './0010-broker.js';
import { brokerClaims } from './0011-broker-claims.js';
import { auditAppend } from './0012-audit-append.js';
import { partialClientGeneratedId } from './0013-partial-client-generated-id.js';

/** Every migration, by sortable name. Append only; never edit a migration that has shipped. */
export const migrations: Record<string, Migration> = {
  '0001-initial-schema': initialSchema,
  '0002-drive-files': driveFiles,
  '0003-member-joined-seq': memberJoinedSeq,
  '0004-refresh-token-families': refreshTokenFamilies,
  '0005-invites': invites,
  '0006-vault': vault,
  '0007-tasks': tasks,
  '0008-schedules': schedules,
  '0009-webhooks': webhooks,
  '0010-broker': broker,
  '0011-broker-claims': brokerClaims,
  '0012-audit-append': auditAppend,
  '0013-partial-client-generated-id': partialClientGeneratedId,
};
