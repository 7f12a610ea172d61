import { sql } from 'kysely';
import type { ServiceContext } from '../../../shared/context.js';
import type { FileRow, Principal } from '../../../shared/db/schema.js';

export function fileToWire(file: FileRow, baseUrl: string) {
  return {
    id: file.id, fileName: file.file_name, contentType: file.content_type, size: Number(file.size), status: file.status,
    channelId: file.channel_id, uploaderId: file.uploader_id, createdAt: new Date(file.created_at).toISOString(),
    downloadUrl: `${baseUrl}/api/v1/drive/files/${file.id}/content`,
  };
}

/** The uploader, members of the file's channel, and members of any channel it was attached in. */
export async function canReadFile(ctx: ServiceContext, principal: Principal, file: FileRow): Promise<boolean> {
  if (file.uploader_id === principal.id) return true;
  const viaChannel = await sql`
    SELECT 1 FROM channel_members cm
    WHERE cm.principal_id = ${principal.id}
      AND (cm.channel_id = ${file.channel_id}
        OR cm.channel_id IN (SELECT channel_id FROM messages WHERE workspace_id = ${file.workspace_id} AND attachment_ids @> ${JSON.stringify([file.id])}::jsonb))
    LIMIT 1`.execute(ctx.db);
  return viaChannel.rows.length > 0;
}
