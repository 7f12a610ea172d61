import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../../src/api/app.js';
import { bootstrapFirstAdmin } from '../../src/shared/bootstrap.js';
import { createTestContext, type TestContext } from './context.js';
import type { Target } from './targets.js';

export interface TestApi {
  app: FastifyInstance;
  ctx: TestContext;
  adminKey: string;
  /** inject() with the given key as bearer; parses JSON. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the shape of light-my-request's own json<T>()
  call(key: string | null, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse & { json<T = any>(): T }>;
  createAgent(handle: string, extra?: Record<string, unknown>): Promise<{ id: string; apiKey: string }>;
  close(): Promise<void>;
}

export function randomKey(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}

/** The REST app on a fresh database with a bootstrapped admin, driven by inject() (no listen). */
export async function startTestApi(target: Target, env: Record<string, string> = {}): Promise<TestApi> {
  const ctx = await createTestContext(target, env);
  const adminKey = randomKey();
  await bootstrapFirstAdmin(ctx.db, ctx.logger, adminKey);
  const app = await buildApp(ctx);
  await app.ready();
  const api: TestApi = {
    app, ctx, adminKey,
    async call(key, method, url, body, headers = {}) {
      const response = await app.inject({
        method, url: url.startsWith('/api') ? url : `/api/v1${url}`,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return response;
    },
    async createAgent(handle, extra = {}) {
      const res = await api.call(adminKey, 'POST', '/agents', { handle, ...extra });
      if (res.statusCode !== 201) throw new Error(`createAgent ${handle}: ${res.statusCode} ${res.body}`);
      const { data } = res.json();
      return { id: data.agent.id, apiKey: data.apiKey };
    },
    async close() {
      await app.close();
      await ctx.close();
    },
  };
  return api;
}
