import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../../shared/context.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { findActiveLease, vaultActor } from '../vaults/service.js';
import { BrokerApprovalPendingSchema, BrokerHostnameSchema, BrokerRequestBody, BrokerResponseSchema } from './schemas.js';
import { brokerRequest } from './service.js';

/** `POST /broker/request` (what `sesame request` calls) and `GET /broker/hostnames`. */
export async function brokerRequestRoutes(app: TypedApp, ctx: ServiceContext) {
  // Closing the app ends every approval wait at once, so a graceful shutdown never waits minutes.
  // One controller per request, aborted by its client's hang-up or by the shutdown (rather than
  // `AbortSignal.any` over a long-lived shutdown signal, which registers every request's
  // composite signal with that one signal and costs each request far more than this).
  const inFlight = new Set<AbortController>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const controller of inFlight) controller.abort();
  });

  app.post('/broker/request', {
    config: { scope: 'write' },
    schema: {
      tags: ['broker'],
      summary: 'Send an HTTP request with the secret bound to its hostname attached server-side; the first use of a hostname waits for a human\'s approval',
      body: BrokerRequestBody,
      response: { 200: Data(BrokerResponseSchema), 202: Data(BrokerApprovalPendingSchema), ...errorResponses },
    },
  }, async (request, reply) => {
    // A client that hangs up stops the approval wait, and so does a shutdown.
    const stop = new AbortController();
    if (closing) stop.abort();
    // Aborted only while the request is still being worked on: aborting builds a DOMException, not worth it for every finished reply.
    reply.raw.once('close', () => { if (inFlight.has(stop)) stop.abort(); });
    inFlight.add(stop);
    let outcome;
    try {
      outcome = await brokerRequest(ctx, vaultActor(caller(request)), request.body, stop.signal);
    } finally {
      inFlight.delete(stop);
    }
    if (outcome.kind === 'pending') {
      reply.status(202);
      return { data: { approval: 'pending' as const, hostname: outcome.hostname, leaseId: outcome.leaseId } };
    }
    return { data: outcome.response };
  });

  app.get('/broker/hostnames', {
    config: { scope: 'read' },
    schema: { tags: ['broker'], summary: 'The hostnames you can call through the broker (no secrets)', response: { 200: Data(Type.Array(BrokerHostnameSchema)), ...errorResponses } },
  }, async (request) => {
    const actor = vaultActor(caller(request));
    const items = await ctx.db.selectFrom('vault_items').select(['id', 'vault_id', 'title', 'hostname', 'injection'])
      .where('workspace_id', '=', actor.workspaceId).where('hostname', 'is not', null)
      .$if(!actor.isAdmin, (q) => q.where((eb) => eb.exists(eb.selectFrom('vault_members').select('vault_members.vault_id')
        .whereRef('vault_members.vault_id', '=', 'vault_items.vault_id').where('vault_members.principal_id', '=', actor.id))))
      .orderBy('hostname').orderBy('id').limit(1000).execute();
    const data = [];
    for (const item of items) {
      const hostname = item.hostname ?? '';
      data.push({
        hostname, itemId: item.id, itemName: item.title, vaultId: item.vault_id, injection: item.injection?.mode ?? 'none',
        approved: Boolean(await findActiveLease(ctx.db, actor, item.id, { hostname })),
      });
    }
    return { data };
  });
}
