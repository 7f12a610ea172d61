import { Type } from '@sinclair/typebox';
import type { Readable } from 'node:stream';
import { BlobTooLargeError } from '../../../shared/blob-store.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { FileRow, Principal } from '../../../shared/db/schema.js';
import { SesameError, conflict, notFound, unauthorized, unprocessable } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, Id, IdParams, Nullable, SafeInteger, Text, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { channelForMember } from '../channels/access.js';
import { DOWNLOAD_CAPABILITY, canReadFile, fileToWire, publicBaseUrl } from './files.js';

const UPLOAD_TTL_SECONDS = 15 * 60;
const FileName = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000\\uD800-\\uDFFF]+$' });
// A media type with optional parameters, anchored at both ends: no CR/LF or other control
// characters, since it is sent back verbatim as the download's Content-Type header.
const ContentType = Type.String({ minLength: 3, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+(; ?[\\w.+-]+=[\\w.+"-]+)*$' });
const FileSchema = Type.Object({
  id: Type.String(), fileName: Type.String(), contentType: Type.String(), size: Type.Integer(), status: Type.String(),
  channelId: Nullable(Type.String()), uploaderId: Type.String(), downloadUrl: Type.String(), createdAt: Type.String(),
});

/** The raw bytes, sent with the file's registered content type (a stream, never serialised). */
const FileBytes = {
  description: 'The file\'s bytes, with its registered `contentType`',
  content: { 'application/octet-stream': { schema: Type.Unsafe<Readable>({ type: 'string', format: 'binary' }) } },
};

/**
 * Wire-compatible "drive": ask for an upload URL, PUT the bytes there, register the file, then
 * reference it from a `kind: "attachment"` message by `attachmentIds`.
 */
export async function driveRoutes(app: TypedApp, ctx: ServiceContext) {
  app.post('/drive/files/upload-url', {
    config: { scope: 'write' },
    schema: {
      tags: ['drive'], summary: 'Reserve a file and get a URL to PUT its bytes to',
      body: Type.Object({ fileName: FileName, contentType: ContentType, size: SafeInteger() }, { additionalProperties: false }),
      response: { 200: Data(Type.Object({ uploadUrl: Type.String(), fileId: Type.String(), s3Key: Type.String(), expiresAt: Type.String() })), ...errorResponses },
    },
  }, async (request) => {
    const me = caller(request).principal;
    const body = request.body;
    if (body.size > ctx.config.SESAME_MAX_UPLOAD_BYTES) throw new SesameError('payload-too-large', `size: files are limited to ${ctx.config.SESAME_MAX_UPLOAD_BYTES} bytes`);
    const fileId = newId('file');
    const s3Key = `${me.workspace_id}/${fileId}`;
    await ctx.db.insertInto('files').values({
      id: fileId, workspace_id: me.workspace_id, uploader_id: me.id, s3_key: s3Key, file_name: body.fileName, content_type: body.contentType,
      size: body.size, status: 'pending', channel_id: null, created_at: new Date(), uploaded_at: null,
    }).execute();
    const token = await ctx.tokens.signCapability('upload', fileId, UPLOAD_TTL_SECONDS);
    return {
      data: {
        uploadUrl: `${publicBaseUrl(ctx, request)}/api/v1/drive/uploads/${fileId}?token=${encodeURIComponent(token)}`,
        fileId, s3Key, expiresAt: new Date(Date.now() + UPLOAD_TTL_SECONDS * 1000).toISOString(),
      },
    };
  });

  // The upload target: authenticated by the capability token in the URL (like a presigned S3 URL).
  await app.register(async (raw: TypedApp) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_request, _payload, done) => { done(null); });
    raw.put('/drive/uploads/:id', {
      config: { public: true },
      schema: {
        tags: ['drive'], summary: 'Upload the bytes of a reserved file (presigned)', params: IdParams,
        querystring: Type.Object({ token: Text({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
        response: { 200: Data(Type.Object({ fileId: Type.String(), size: Type.Integer() })), ...errorResponses },
      },
    }, async (request) => {
      const { id } = request.params;
      const subject = await ctx.tokens.verifyCapability('upload', request.query.token);
      if (subject !== id) throw unauthorized('The upload URL is invalid or expired; request a new one');
      const file = await ctx.db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
      if (!file) throw notFound('File');
      if (file.status === 'registered') throw conflict('This file is already registered; its bytes are immutable');
      let size: number;
      try {
        size = await ctx.blobs.put(file.s3_key, request.raw, file.size);
      } catch (err) {
        if (err instanceof BlobTooLargeError) throw new SesameError('payload-too-large', `The body exceeds the declared size of ${file.size} bytes`);
        throw err;
      }
      if (size !== file.size) {
        await ctx.blobs.delete(file.s3_key);
        throw unprocessable(`The body has ${size} bytes but ${file.size} were declared`);
      }
      await ctx.db.updateTable('files').set({ status: 'uploaded', uploaded_at: new Date() }).where('id', '=', id).where('status', '=', 'pending').execute();
      return { data: { fileId: id, size } };
    });
  });

  app.post('/drive/files', {
    config: { scope: 'write' },
    schema: {
      tags: ['drive'], summary: 'Register an uploaded file',
      body: Type.Object({
        fileId: Id, s3Key: Text({ minLength: 1, maxLength: 300 }), fileName: FileName, contentType: ContentType,
        size: SafeInteger(), channelId: Type.Optional(Id),
      }, { additionalProperties: false }),
      response: { 201: Data(FileSchema), ...errorResponses },
    },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const body = request.body;
    const file = await ctx.db.selectFrom('files').selectAll().where('id', '=', body.fileId).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
    if (!file || file.uploader_id !== me.id) throw notFound('File');
    if (file.s3_key !== body.s3Key || file.size !== body.size) throw unprocessable('s3Key and size must match the upload URL request');
    if (file.status === 'pending') throw unprocessable('Upload the bytes to uploadUrl before registering the file');
    if (body.channelId) await channelForMember(ctx.db, me, body.channelId);
    const row = await ctx.db.updateTable('files')
      .set({ status: 'registered', file_name: body.fileName, content_type: body.contentType, channel_id: body.channelId ?? file.channel_id })
      .where('id', '=', file.id).returningAll().executeTakeFirstOrThrow();
    reply.status(201);
    return { data: await fileToWire(ctx, row, publicBaseUrl(ctx, request)) };
  });

  app.get('/drive/files/:id', {
    config: { scope: 'read' },
    schema: { tags: ['drive'], summary: 'File metadata', params: IdParams, response: { 200: Data(FileSchema), ...errorResponses } },
  }, async (request) => {
    const file = await readableFile(ctx, caller(request).principal, request.params.id);
    return { data: await fileToWire(ctx, file, publicBaseUrl(ctx, request)) };
  });

  // The `downloadUrl`: opened by its signed token alone (like a presigned S3 URL), or by a member
  // with their credential.
  app.get('/drive/files/:id/content', {
    config: { public: true },
    schema: {
      tags: ['drive'], summary: 'Download the bytes (signed downloadUrl, or your credential)', params: IdParams,
      querystring: Type.Object({ token: Type.Optional(Text({ minLength: 1, maxLength: 2000 })) }, { additionalProperties: false }),
      response: { 200: FileBytes, ...errorResponses },
    },
  }, async (request, reply) => {
    const file = await downloadableFile(ctx, request.params.id, request.query.token, request.auth?.principal);
    const blob = await ctx.blobs.get(file.s3_key);
    if (!blob) throw notFound('File');
    reply.header('content-type', file.content_type).header('content-length', String(blob.size))
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.file_name)}`)
      .header('x-content-type-options', 'nosniff');
    return reply.send(blob.stream);
  });
}

/**
 * The file a download may read: a valid token for this very file opens it; otherwise the caller
 * must be authenticated and allowed to read it. No valid token and no credential is a 401.
 */
async function downloadableFile(ctx: ServiceContext, id: string, token: string | undefined, me: Principal | undefined): Promise<FileRow> {
  if (token !== undefined && (await ctx.tokens.verifyCapability(DOWNLOAD_CAPABILITY, token)) === id) {
    const file = await ctx.db.selectFrom('files').selectAll().where('id', '=', id).where('status', '=', 'registered').executeTakeFirst();
    if (!file) throw notFound('File');
    return file;
  }
  if (!me) throw unauthorized(token === undefined ? undefined : 'The download URL is invalid or expired; read the file or message again for a fresh one');
  return readableFile(ctx, me, id);
}

async function readableFile(ctx: ServiceContext, me: Principal, id: string): Promise<FileRow> {
  const file = await ctx.db.selectFrom('files').selectAll().where('id', '=', id).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
  if (!file || file.status !== 'registered' || !(await canReadFile(ctx, me, file))) throw notFound('File');
  return file;
}
