/**
 * Bare `ws` broadcast server (child process): the ceiling, with no persistence, no Redis, no
 * auth. A client on `/send` is the sender; each of its messages is sent as-is to every other
 * client. Prints `LISTENING <port>` when ready.
 *
 * With DATABASE_URL: the same server made durable the plainest way (the writes bench's naive
 * durable write): each message is first written in one transaction on a pg pool of 10 (the
 * channel's seq row-locked and incremented, a message row, an event row, commit), then sent
 * to every other client. No ordering across messages in flight, no replay: the least a
 * durable broadcast costs.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const subscribers = new Set<WebSocket>();
const broadcast = (data: RawData) => { for (const subscriber of subscribers) subscriber.send(data, { binary: false }); };

const databaseUrl = process.env.DATABASE_URL;
const pool = databaseUrl ? new pg.Pool({ connectionString: databaseUrl, max: 10 }) : undefined;
// An idle client's error (Postgres restarted) must not kill the peer; the pool drops that client.
pool?.on('error', (err) => { process.stderr.write(`pg pool: ${err.message}\n`); });
const CHANNEL = 'fanout-durable';

/** Writes `content` as the channel's next message with its event, in one transaction. */
async function persist(db: pg.Pool, content: string): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ head_seq: string }>(
      'INSERT INTO fanout_streams (id, head_seq) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET head_seq = fanout_streams.head_seq + 1 RETURNING head_seq', [CHANNEL]);
    const seq = Number(rows[0].head_seq);
    const at = new Date().toISOString();
    await client.query('INSERT INTO fanout_messages (id, channel_id, seq, content, created_at) VALUES ($1, $2, $3, $4, $5)', [randomUUID(), CHANNEL, seq, content, at]);
    await client.query('INSERT INTO fanout_events (stream, seq, data, at) VALUES ($1, $2, $3, $4)', [CHANNEL, seq, JSON.stringify({ content }), at]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function main() {
  if (pool) {
    await pool.query(`
      CREATE TABLE IF NOT EXISTS fanout_streams (id text PRIMARY KEY, head_seq bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS fanout_messages (id text PRIMARY KEY, channel_id text NOT NULL, seq bigint NOT NULL, content text NOT NULL, created_at timestamptz NOT NULL, UNIQUE (channel_id, seq));
      CREATE TABLE IF NOT EXISTS fanout_events (stream text NOT NULL, seq bigint NOT NULL, data jsonb NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (stream, seq));`);
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws, request) => {
    if (request.url === '/send') {
      ws.on('message', (data) => {
        if (!pool) { broadcast(data); return; }
        persist(pool, (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)).toString()).then(() => { broadcast(data); }, (err: unknown) => {
          // A message not persisted is never sent: stop loudly rather than stall the bench's closed loop.
          process.stderr.write(`persist failed: ${String(err)}\n`);
          process.exit(1);
        });
      });
      return;
    }
    subscribers.add(ws);
    ws.on('close', () => subscribers.delete(ws));
  });
  wss.on('listening', () => {
    const address = wss.address();
    process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
}

process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0)); // the bench went away
void main();
