import type { ServiceContext } from '../shared/context.js';

/**
 * Periodic cleanup: spent auth challenges and refresh tokens, and events past retention (the
 * gateway tells clients whose cursor is older to resync) with the settled webhook deliveries of
 * that age. Idempotent, so any number of workers may run it.
 */
export async function runHousekeeping(ctx: ServiceContext): Promise<void> {
  const now = new Date();
  await ctx.db.deleteFrom('auth_challenges').where('expires_at', '<', now).execute();
  // Spent refresh tokens stay until they expire: presenting one again is how reuse is detected.
  await ctx.db.deleteFrom('refresh_tokens').where('expires_at', '<', now).execute();
  const horizon = new Date(now.getTime() - ctx.config.SESAME_EVENT_RETENTION_DAYS * 86_400_000);
  await ctx.db.deleteFrom('events').where('at', '<', horizon).execute();
  // Settled webhook deliveries go with the events they carried (their attempts cascade).
  await ctx.db.deleteFrom('webhook_deliveries').where('status', '!=', 'pending').where('updated_at', '<', horizon).execute();
}
