import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/api/routes/channels/messages/group-commit.js';
import { expectOutcomeUnknown } from './support/outcome.js';
import { startTestApi, type TestApi } from './support/api.js';

/** After the batch statement has run (and committed), its answer is lost as with a dropped connection. */
class LoseBatchAnswer implements KyselyPlugin {
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode { return node; }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (result.rows.length > 0 && 'ord' in result.rows[0] && 'seq' in result.rows[0]) throw new Error('Connection terminated unexpectedly');
    return result;
  }
}

describe('group commit when the connection fails after the batch statement was sent', () => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi('pglite'); });
  afterAll(() => api?.close());

  it('answers every caller 503 (outcome unknown) instead of sending the batch again one by one: nothing is written twice', async () => {
    const alice = await api.createAgent('outcome-alice');
    const channelId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'channel', name: 'outcome', memberIds: [] })).json().data.id as string;
    const sender = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', alice.id).executeTakeFirstOrThrow();
    let alone = 0;
    const commit = new GroupCommit({ ...api.ctx, db: api.ctx.db.withPlugin(new LoseBatchAnswer()) }, () => { alone++; throw new Error('must not go alone'); });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => commit.send(sender, channelId, { content: `m${String(i)}`, kind: 'text' }, () => '')));
    expect(alone).toBe(0);
    expectOutcomeUnknown(results);
    // The batch did commit: each message once.
    const rows = await api.ctx.db.selectFrom('messages').select('content').where('channel_id', '=', channelId).execute();
    expect(rows.map((r) => r.content).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});
