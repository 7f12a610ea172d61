import type { AgentCard, DiscoveredAgent } from '@sesamespace/sdk/protocol';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { ServiceContext } from '../../../shared/context.js';
import { notFound } from '../../../shared/errors.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, IdParams, JsonObject, Text, errorResponses } from '../../../shared/http/schemas.js';
import type { RouteModule } from '../../../shared/http/typed-app.js';
import type { PresenceReader } from '../../../shared/presence/presence-reader.js';
import { capabilitiesOf, registerCapabilities } from './capabilities.js';

/** A capability part: lowercase, starting with a letter (`code`, `review`, `pull-requests`). */
const Part = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_-]*$' });
const CapabilityIn = Type.Object({
  namespace: Part, name: Part,
  description: Type.Optional(Text({ maxLength: 2000 })),
  inputSchema: Type.Optional(JsonObject({ maxDepth: 16, maxBytes: 32 * 1024 })),
}, { additionalProperties: false });
/** A capability an agent registered, discoverable as `namespace.name` (also in the manifest). */
export const CapabilityOut = Type.Object({
  namespace: Type.String(), name: Type.String(), description: Type.Optional(Type.String()),
  inputSchema: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'JSON Schema of the input the capability takes' })),
}, { $id: 'Capability' });
const DiscoveredAgentSchema = Type.Object({
  id: Type.String(), handle: Type.String(), displayName: Type.String(), online: Type.Boolean(), capabilities: Type.Array(CapabilityOut),
}, { $id: 'DiscoveredAgent' });
const AgentCardSchema = Type.Object({
  id: Type.String(), name: Type.String(), description: Type.String(), handle: Type.String(),
  skills: Type.Array(Type.Object({
    id: Type.String(), name: Type.String(), description: Type.String(), tags: Type.Array(Type.String()),
    inputSchema: Type.Optional(Type.Object({}, { additionalProperties: true })),
  })),
}, { $id: 'AgentCard' });
const DiscoverQuery = Type.Object({
  capability: Type.Optional(Type.String({ maxLength: 129, pattern: '^[a-z][a-z0-9_-]*\\.[a-z][a-z0-9_-]*$' })),
  q: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  online: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const MAX_DISCOVERED = 100;

/**
 * Capabilities, discovery and agent cards. Discovery ranks online agents first; `presence` is the
 * same reader `GET /presence` uses (absent on an api without gateway or Redis: nobody is online).
 */
export function agentRoutes(presence?: PresenceReader): RouteModule {
  return async function agents(app, ctx: ServiceContext) {
    app.put('/capabilities', {
      config: { scope: 'write' },
      schema: {
        tags: ['agents'], summary: 'Replace your capabilities (`namespace.name` unique)',
        body: Type.Object({ capabilities: Type.Array(CapabilityIn, { maxItems: 100 }) }, { additionalProperties: false }),
        response: { 200: Data(Type.Array(CapabilityOut)), ...errorResponses },
      },
    }, async (request) => {
      return { data: await registerCapabilities(ctx.db, caller(request).principal, request.body.capabilities) };
    });

    app.get('/capabilities', {
      config: { scope: 'read' },
      schema: { tags: ['agents'], summary: 'Your capabilities', response: { 200: Data(Type.Array(CapabilityOut)), ...errorResponses } },
    }, async (request) => {
      const me = caller(request).principal;
      return { data: (await capabilitiesOf(ctx.db, [me.id])).get(me.id) ?? [] };
    });

    app.get('/agents/discover', {
      config: { scope: 'read' },
      schema: {
        tags: ['agents'], summary: 'Agents of your workspace by capability or text, online ones first',
        querystring: DiscoverQuery, response: { 200: Data(Type.Array(DiscoveredAgentSchema)), ...errorResponses },
      },
    }, async (request) => {
      const me = caller(request).principal;
      const { capability, q, online } = request.query;
      let query = ctx.db.selectFrom('principals').select(['id', 'handle', 'display_name'])
        .where('workspace_id', '=', me.workspace_id).where('kind', '=', 'agent').where('disabled_at', 'is', null);
      if (capability) {
        const dot = capability.indexOf('.');
        const [namespace, name] = [capability.slice(0, dot), capability.slice(dot + 1)];
        query = query.where((eb) => eb.exists(eb.selectFrom('agent_capabilities').select('agent_capabilities.principal_id')
          .whereRef('agent_capabilities.principal_id', '=', 'principals.id').where('agent_capabilities.namespace', '=', namespace).where('agent_capabilities.name', '=', name)));
      }
      if (q) {
        const like = `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        query = query.where((eb) => eb.or([
          eb(eb.fn('lower', ['principals.handle']), 'like', like),
          eb(eb.fn('lower', ['principals.display_name']), 'like', like),
          eb.exists(eb.selectFrom('agent_capabilities').select('agent_capabilities.principal_id').whereRef('agent_capabilities.principal_id', '=', 'principals.id')
            .where((inner) => inner.or([
              inner(inner.fn('lower', ['agent_capabilities.description']), 'like', like),
              inner(sql<string>`agent_capabilities.namespace || '.' || agent_capabilities.name`, 'like', like),
            ]))),
        ]));
      }
      // Bounded before presence is read: one workspace's agents, at most a few thousand ids.
      const rows = await query.orderBy('handle').limit(5000).execute();
      const statuses = presence && rows.length ? await presence.statuses(rows.map((r) => r.id)) : {};
      const isOnline = (id: string) => statuses[id] === 'online' || statuses[id] === 'away';
      const ranked = rows.filter((r) => online === undefined || isOnline(r.id) === online)
        .sort((a, b) => Number(isOnline(b.id)) - Number(isOnline(a.id))).slice(0, MAX_DISCOVERED);
      const capabilities = await capabilitiesOf(ctx.db, ranked.map((r) => r.id));
      const data: DiscoveredAgent[] = ranked.map((r) => ({ id: r.id, handle: r.handle, displayName: r.display_name, online: isOnline(r.id), capabilities: capabilities.get(r.id) ?? [] }));
      return { data };
    });

    app.get('/agents/:id/card', {
      config: { scope: 'read' },
      schema: { tags: ['agents'], summary: 'An A2A-style agent card: name, description, skills from capabilities', params: IdParams, response: { 200: Data(AgentCardSchema), ...errorResponses } },
    }, async (request) => {
      const me = caller(request).principal;
      const agent = await ctx.db.selectFrom('principals').select(['id', 'handle', 'display_name']).where('id', '=', request.params.id)
        .where('workspace_id', '=', me.workspace_id).where('kind', '=', 'agent').executeTakeFirst();
      if (!agent) throw notFound('Agent');
      const capabilities = (await capabilitiesOf(ctx.db, [agent.id])).get(agent.id) ?? [];
      const skills = capabilities.map((c) => ({
        id: `${c.namespace}.${c.name}`, name: `${c.namespace}.${c.name}`, description: c.description ?? '', tags: [c.namespace],
        ...(c.inputSchema ? { inputSchema: c.inputSchema } : {}),
      }));
      const description = skills.length ? `${agent.display_name} (@${agent.handle}) can: ${skills.map((s) => s.id).join(', ')}` : `${agent.display_name} (@${agent.handle})`;
      const card: AgentCard = { id: agent.id, name: agent.display_name, handle: agent.handle, description, skills };
      return { data: card };
    });
  };
}
