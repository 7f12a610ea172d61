import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../../shared/context.js';

export async function healthRoutes(app: FastifyInstance, ctx: ServiceContext) {
  app.get('/health', {
    config: { public: true },
    schema: { tags: ['system'], summary: 'Liveness and database reachability', response: { 200: Type.Object({ status: Type.String(), timestamp: Type.String() }) } },
  }, async () => {
    await sql`SELECT 1`.execute(ctx.db);
    return { status: 'healthy', timestamp: new Date().toISOString() };
  });

  app.get('/setup/status', {
    config: { public: true },
    schema: { tags: ['system'], summary: 'Whether the first admin exists', response: { 200: Type.Object({ setupComplete: Type.Boolean(), hasAdmin: Type.Boolean() }) } },
  }, async () => {
    const admin = await ctx.db.selectFrom('principals').select('id').where('is_admin', '=', true).limit(1).executeTakeFirst();
    return { setupComplete: Boolean(admin), hasAdmin: Boolean(admin) };
  });
}
