import type { Attachment, Message } from '@sesamespace/sdk/protocol';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServiceContext } from '../../../shared/context.js';
import type { FileRow, Principal } from '../../../shared/db/schema.js';

/** The capability a download URL carries: reading the bytes of one file, until it expires. */
export const DOWNLOAD_CAPABILITY = 'download';

/** How a URL names its host: unspecified addresses as loopback, IPv6 in brackets. */
function urlHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * The origin of the links the api hands out (upload and download URLs): `SESAME_PUBLIC_URL` (or its older name `SESAME_PUBLIC_API_URL`)
 * when configured, else the api's own listening address. Never the request's `Host` or
 * `X-Forwarded-Host`: a stored link must not point wherever a client's headers said.
 */
export function publicBaseUrl(ctx: ServiceContext, request: { server: FastifyInstance }): string {
  const configured = ctx.config.SESAME_PUBLIC_URL ?? ctx.config.SESAME_PUBLIC_API_URL;
  if (configured) return configured.replace(/\/+$/, '');
  // Listening: the bound address (PORT=0 picks a free port). Driven by inject(): the configured one.
  const bound = request.server.server.address();
  const listening = bound && typeof bound === 'object' ? bound : { address: ctx.config.HOST, port: ctx.config.PORT };
  return `http://${urlHost(listening.address)}:${listening.port}`;
}

/**
 * A download URL that works without credentials, like a presigned S3 URL: the token is scoped to
 * this file and expires after `SESAME_DOWNLOAD_URL_TTL_SECONDS`. Every read signs a fresh one.
 */
async function signedDownloadUrl(ctx: ServiceContext, baseUrl: string, fileId: string): Promise<string> {
  const token = await ctx.tokens.signCapability(DOWNLOAD_CAPABILITY, fileId, ctx.config.SESAME_DOWNLOAD_URL_TTL_SECONDS);
  return `${baseUrl}/api/v1/drive/files/${fileId}/content?token=${encodeURIComponent(token)}`;
}

export async function fileToWire(ctx: ServiceContext, file: FileRow, baseUrl: string) {
  return {
    id: file.id, fileName: file.file_name, contentType: file.content_type, size: file.size, status: file.status,
    channelId: file.channel_id, uploaderId: file.uploader_id, createdAt: new Date(file.created_at).toISOString(),
    downloadUrl: await signedDownloadUrl(ctx, baseUrl, file.id),
  };
}

/** The message with a freshly signed `downloadUrl` on each attachment (stored ones expire). */
export async function withFreshDownloadUrls(ctx: ServiceContext, baseUrl: string, message: Message): Promise<Message> {
  const attachments = message.metadata.attachments as Attachment[] | undefined;
  if (!attachments?.length) return message;
  const fresh = await Promise.all(attachments.map(async (a) => ({ ...a, downloadUrl: await signedDownloadUrl(ctx, baseUrl, a.id) })));
  return { ...message, metadata: { ...message.metadata, attachments: fresh } };
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
