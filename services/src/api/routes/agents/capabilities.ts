import type { Capability } from '@sesamespace/sdk/protocol';
import type { Db } from '../../../shared/db/database.js';
import type { Principal } from '../../../shared/db/schema.js';
import { unprocessable } from '../../../shared/errors.js';

type CapabilityRow = { principal_id: string; namespace: string; name: string; description: string | null; input_schema: Record<string, unknown> | null };

function capabilityToWire(row: CapabilityRow): Capability {
  return {
    namespace: row.namespace, name: row.name,
    ...(row.description !== null ? { description: row.description } : {}),
    ...(row.input_schema !== null ? { inputSchema: row.input_schema } : {}),
  };
}

/** Capabilities of each principal, in `namespace.name` order. */
export async function capabilitiesOf(db: Db, principalIds: string[]): Promise<Map<string, Capability[]>> {
  const map = new Map<string, Capability[]>(principalIds.map((id) => [id, []]));
  if (principalIds.length === 0) return map;
  const rows = await db.selectFrom('agent_capabilities').select(['principal_id', 'namespace', 'name', 'description', 'input_schema'])
    .where('principal_id', 'in', principalIds).orderBy('namespace').orderBy('name').execute();
  for (const row of rows) map.get(row.principal_id)?.push(capabilityToWire(row));
  return map;
}

/** Replaces the caller's capabilities in one transaction; `namespace.name` must be unique. */
export async function registerCapabilities(db: Db, me: Principal, capabilities: Capability[]): Promise<Capability[]> {
  const seen = new Set<string>();
  for (const [i, c] of capabilities.entries()) {
    const key = `${c.namespace}.${c.name}`;
    if (seen.has(key)) throw unprocessable(`capabilities/${i}: '${key}' is listed twice`);
    seen.add(key);
  }
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('agent_capabilities').where('principal_id', '=', me.id).execute();
    if (capabilities.length === 0) return;
    await trx.insertInto('agent_capabilities').values(capabilities.map((c) => ({
      principal_id: me.id, workspace_id: me.workspace_id, namespace: c.namespace, name: c.name, description: c.description ?? null,
      input_schema: c.inputSchema ? JSON.stringify(c.inputSchema) : null, created_at: new Date(),
    }))).execute();
  });
  return (await capabilitiesOf(db, [me.id])).get(me.id) ?? [];
}
