import type { Attachment, Channel, Message, MessageMetadata, PrincipalKind, Principal } from '@sesamespace/sdk/protocol';
import { sql, type RawBuilder } from 'kysely';
import type { Channel as ChannelRow, MessageRow, Principal as PrincipalRow } from '../shared/db/schema.js';

/**
 * Database rows → the REST bodies of `@sesamespace/sdk/protocol` (docs/rest-contract.md). The only
 * place that shapes them; the return types are the protocol's, so the api and the SDK cannot drift.
 */
export function iso(d: Date | string): string;
export function iso(d: Date | string | null): string | null;
export function iso(d: Date | string | null) {
  return d == null ? null : new Date(d).toISOString();
}

export function principalToWire(p: PrincipalRow): Principal {
  return {
    id: p.id, handle: p.handle, displayName: p.display_name, kind: p.kind, workspaceId: p.workspace_id,
    isAdmin: p.is_admin, publicKey: p.public_key, createdAt: iso(p.created_at),
  };
}

export function channelToWire(c: ChannelRow, memberIds: string[], headSeq: number): Channel {
  return {
    id: c.id, workspaceId: c.workspace_id, kind: c.kind, name: c.name, description: c.description, context: c.context,
    createdBy: c.created_by, createdAt: iso(c.created_at), memberIds, headSeq,
  };
}

export interface SenderInfo { handle: string; display_name: string; kind: PrincipalKind }

/**
 * The message wire object's layout, the one place its keys are named: the fields that are a
 * message row's column as it is (wire key → column; `content` is blanked on a tombstone), the
 * metadata keys the server fills in, and the timestamps. `messageToWire` writes it out as an
 * object literal (it runs once per message on the send path, so it stays a literal rather than
 * a loop over this table); a field added to the protocol's `Message` fails to compile in both
 * until each has it, and edit-group-commit.test.ts pins the SQL form to `messageToWire`'s. The
 * SQL that builds or reads the same shape inside the batch statements is made from this table
 * (`liveMessageWireSql`, `wireColumnsSql`), once per process, as are the metadata keys a client
 * may not set (`kinds.ts`).
 */
const MESSAGE_COLUMNS = {
  id: 'id', channelId: 'channel_id', senderId: 'sender_id', seq: 'seq', kind: 'kind', content: 'content',
  intent: 'intent', threadRootId: 'thread_root_id', clientGeneratedId: 'client_generated_id',
  attachmentIds: 'attachment_ids', streaming: 'streaming',
} as const satisfies { [K in Exclude<keyof Message, 'metadata' | MessageTimestamp>]: keyof MessageRow };
type MessageTimestamp = 'editedAt' | 'deletedAt' | 'createdAt';
type MessageColumnField = keyof typeof MESSAGE_COLUMNS;

/** The metadata keys the server sets on every message (who sent it, its attachments); a client may not. */
export const SERVER_METADATA_KEYS = ['senderHandle', 'senderDisplayName', 'senderKind', 'attachments'] as const satisfies
  ReadonlyArray<keyof { [K in keyof MessageMetadata as string extends K ? never : K]: unknown }>;

export function messageToWire(m: MessageRow, sender: SenderInfo): Message {
  const metadata = m.metadata;
  return {
    id: m.id, channelId: m.channel_id, senderId: m.sender_id, seq: m.seq, kind: m.kind,
    content: m.deleted_at ? '' : m.content,
    intent: m.intent, threadRootId: m.thread_root_id, clientGeneratedId: m.client_generated_id,
    attachmentIds: m.attachment_ids, streaming: m.streaming,
    metadata: {
      ...(m.deleted_at ? {} : metadata),
      senderHandle: sender.handle, senderDisplayName: sender.display_name, senderKind: sender.kind,
      attachments: (metadata.attachments as Attachment[] | undefined) ?? [],
    },
    editedAt: iso(m.edited_at), deletedAt: iso(m.deleted_at), createdAt: iso(m.created_at),
  };
}

/**
 * SQL, `jsonb_build_object(…)`: the message `messageToWire` makes of a row that is not deleted,
 * from the columns of the message row in scope and its sender's (`handle`, `display_name`,
 * `sender_kind`), the edit time given (`deletedAt` null). The edit batch builds each
 * `message.updated` event's data with it, in the statement that writes the edit.
 */
export function liveMessageWireSql(editedAt: string): RawBuilder<unknown> {
  return sql`jsonb_build_object(${LIVE_MESSAGE_FIELDS_SQL}, 'editedAt', ${editedAt}::text, 'deletedAt', NULL::text,
    'createdAt', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
}

const SENDER_COLUMNS = { senderHandle: 'handle', senderDisplayName: 'display_name', senderKind: 'sender_kind' } as const satisfies
  { [K in Exclude<(typeof SERVER_METADATA_KEYS)[number], 'attachments'>]: string };
const LIVE_MESSAGE_FIELDS_SQL = sql.raw([
  ...Object.entries(MESSAGE_COLUMNS).map(([field, column]) => `'${field}', ${column}`),
  `'metadata', metadata || jsonb_build_object(${Object.entries(SENDER_COLUMNS).map(([field, column]) => `'${field}', ${column}`).join(', ')}, `
    + `'attachments', coalesce(nullif(metadata->'attachments', 'null'::jsonb), '[]'::jsonb))`,
].join(', '));

/**
 * SQL: the columns of a message row read back from a wire message (`messageToWire`'s output as
 * jsonb, named `wire`), for the given fields, and `metadata` without the keys the server adds.
 * The send batch reads its rows from the wire messages it is given.
 */
export function wireColumnsSql(wire: string, fields: readonly MessageColumnField[]): RawBuilder<unknown> {
  return sql.raw([
    ...fields.map((field) => `${wire}->>'${field}' AS ${MESSAGE_COLUMNS[field]}`),
    `(${wire}->'metadata') ${SERVER_METADATA_KEYS.map((key) => `- '${key}'`).join(' ')} AS metadata`,
  ].join(', '));
}
