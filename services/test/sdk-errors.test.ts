import {
  BadRequestError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, RateLimitError, SesameClient, SesameError,
  UnauthorizedError, UnprocessableEntityError,
} from '@sesamespace/sdk';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomKey, startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

const BODY_LIMIT_BYTES = 4096;

/**
 * The api's real error responses, read through @sesamespace/sdk: each Problem Details type must
 * come back as its SDK class, with the request id and the whole body (including `error`, the
 * copy of `detail` that clients of the hosted service read).
 */
describe.each(targets())('SDK error classes from the api on %s', (target) => {
  let api: TestApi;
  let apiUrl: string;
  let admin: SesameClient;
  let alice: SesameClient;
  let carol: SesameClient;
  let channelId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES) });
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
    const client = (apiKey: string) => new SesameClient({ apiUrl, apiKey, maxRetries: 0 });
    admin = client(api.adminKey);
    const bob = await api.createAgent('bob');
    alice = client((await api.createAgent('alice')).apiKey);
    carol = client((await api.createAgent('carol')).apiKey);
    channelId = (await alice.createDm(bob.id)).channel.id;
  });
  afterAll(() => api?.close());

  async function failure(call: Promise<unknown>): Promise<SesameError> {
    const outcome = await call.then(() => undefined, (err: unknown) => err);
    expect(outcome).toBeInstanceOf(SesameError);
    return outcome as SesameError;
  }

  function expectProblem(error: SesameError, ErrorClass: typeof SesameError, status: number, kind: string) {
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toMatchObject({ status, type: `urn:sesame:error:${kind}`, problem: { type: `urn:sesame:error:${kind}`, status } });
    expect(error.requestId).toMatch(/\S/);
    expect(error.detail).toMatch(/\S/);
    expect(error.problem!.detail).toBe(error.detail);
    expect(error.problem!.error).toBe(error.detail);
  }

  it('400 bad-request → BadRequestError with the field errors', async () => {
    const error = await failure(alice.sendMessage(channelId, { content: 42 as unknown as string, kind: 'text' }));
    expectProblem(error, BadRequestError, 400, 'bad-request');
    expect(error.problem!.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('content') })]));
  });

  it('401 unauthorized → UnauthorizedError', async () => {
    const stranger = new SesameClient({ apiUrl, apiKey: randomKey(), maxRetries: 0 });
    expectProblem(await failure(stranger.getMe()), UnauthorizedError, 401, 'unauthorized');
  });

  it('403 forbidden → ForbiddenError', async () => {
    expectProblem(await failure(carol.getMessages(channelId)), ForbiddenError, 403, 'forbidden');
  });

  it('404 not-found → NotFoundError', async () => {
    expectProblem(await failure(alice.getChannel('ch_does_not_exist')), NotFoundError, 404, 'not-found');
  });

  it('409 conflict → ConflictError', async () => {
    expectProblem(await failure(admin.createAgent({ handle: 'alice' })), ConflictError, 409, 'conflict');
  });

  it('413 payload-too-large → PayloadTooLargeError', async () => {
    const error = await failure(alice.sendMessage(channelId, { content: 'x'.repeat(BODY_LIMIT_BYTES * 2) }));
    expectProblem(error, PayloadTooLargeError, 413, 'payload-too-large');
  });

  it('422 unprocessable-entity → UnprocessableEntityError', async () => {
    const error = await failure(alice.createApiKey({ name: 'late', expiresAt: new Date(Date.now() - 60_000).toISOString() }));
    expectProblem(error, UnprocessableEntityError, 422, 'unprocessable-entity');
  });

  it('429 rate-limited → RateLimitError with retryAfter from the api', async () => {
    const { apiKey } = await alice.createApiKey({ name: 'tight', rateLimitPerMinute: 1 });
    const limited = new SesameClient({ apiUrl, apiKey, maxRetries: 0 });
    await limited.getMe();
    const error = await failure(limited.getMe());
    expectProblem(error, RateLimitError, 429, 'rate-limited');
    expect(error.retryAfter).toBeGreaterThan(0);
    expect(error.problem!.retryAfter).toBe(error.retryAfter);
  });
});
