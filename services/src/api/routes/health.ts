import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { sql } from 'kysely';
import type { ServiceContext } from '../../shared/context.js';
import type { TypedApp } from '../../shared/http/typed-app.js';

const SetupStatus = Type.Object({
  setupComplete: Type.Boolean({ description: 'The first admin was created (bootstrap or signup); setup never runs again.' }),
  hasAdmin: Type.Boolean({ description: 'An enabled admin exists now, so someone can administer the server. False once every admin is disabled.' }),
});

/** How long a database check, passed or failed, answers `/health`. */
const DATABASE_CHECK_TTL_MS = 1000;

export async function healthRoutes(app: TypedApp, ctx: ServiceContext) {
  // The database check is shared: at most one `SELECT 1` per second however often health is
  // asked (a probe or a load balancer polling many times a second costs the database nothing
  // more). Concurrent requests wait for the same check; a failure answers for its second too,
  // so a database failing fast is not asked once per request by a flood of probes.
  let lastCheck: { at: number; done: Promise<unknown>; passed: boolean } | undefined;
  const checkDatabase = (): Promise<unknown> => {
    const now = performance.now();
    if (lastCheck && now - lastCheck.at < DATABASE_CHECK_TTL_MS) return lastCheck.done;
    const check = { at: now, done: sql`SELECT 1`.execute(ctx.db), passed: false };
    lastCheck = check;
    check.done.then(() => { check.passed = true; }, () => {});
    return check.done;
  };
  // The answer is serialized once per millisecond (its timestamp's), however many requests share it.
  let stampedAt = 0;
  let body = '';
  const answerHealthy = (reply: FastifyReply): FastifyReply => {
    const now = Date.now();
    if (now !== stampedAt) {
      stampedAt = now;
      // The route's JSON serializer (its 200 schema) answers a string.
      body = reply.serialize({ status: 'healthy', timestamp: new Date(now).toISOString() }) as string;
    }
    // Already serialized by the schema: sent as is (a string is not serialized again).
    return reply.type('application/json; charset=utf-8').send(body);
  };

  app.get('/health', {
    // Never rate-limited: a probe must not read a 429 as "unhealthy" (the check itself costs the
    // database at most one query a second).
    config: { public: true, rateLimit: false },
    schema: { tags: ['system'], summary: 'Liveness and database reachability (checked at most once a second)', response: { 200: Type.Object({ status: Type.String(), timestamp: Type.String() }) } },
  }, (_request, reply) => {
    // A check that passed less than a second ago answers at once (no promise, no tick).
    const check = lastCheck;
    if (check?.passed && performance.now() - check.at < DATABASE_CHECK_TTL_MS) {
      void answerHealthy(reply);
      return;
    }
    return checkDatabase().then(() => { void answerHealthy(reply); });
  });

  app.get('/setup/status', {
    config: { public: true },
    schema: { tags: ['system'], summary: 'Whether setup is complete and an admin can act', response: { 200: SetupStatus } },
  }, async () => {
    // Setup is complete once any admin was ever created (the check bootstrap makes); whether one
    // is still enabled is a separate question an operator needs answered.
    const admins = ctx.db.selectFrom('principals').select('id').where('is_admin', '=', true).limit(1);
    const [anyAdmin, enabledAdmin] = await Promise.all([admins.executeTakeFirst(), admins.where('disabled_at', 'is', null).executeTakeFirst()]);
    return { setupComplete: Boolean(anyAdmin), hasAdmin: Boolean(enabledAdmin) };
  });
}
