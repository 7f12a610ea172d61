/**
 * The writes bench's reference servers (child process), both on Fastify 5 like Sesame:
 *   MODE=echo   `POST /channels/:id/messages` answers 201 with the parsed body (the HTTP ceiling:
 *               no auth, no database), `PATCH /channels/:id/messages/:messageId` 200 likewise
 *   MODE=naive  the plainest durable write on DATABASE_URL: per request one transaction that
 *               row-locks the channel's seq (`UPDATE … head_seq + 1 RETURNING`), inserts the
 *               message and its event, commits; pg pool of 10 (Sesame's default)
 * Prints `LISTENING <port>` when ready.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const mode = process.env.MODE ?? 'echo';
const app = Fastify({ logger: false });

async function main() {

if (mode === 'echo') {
  app.get('/health', async () => ({ status: 'healthy', timestamp: new Date().toISOString() }));
  app.post('/channels/:id/messages', async (request, reply) => {
    reply.status(201);
    return { data: request.body };
  });
  app.patch('/channels/:id/messages/:messageId', async (request) => ({ data: request.body }));
} else {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS naive_streams (id text PRIMARY KEY, head_seq bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS naive_messages (id text PRIMARY KEY, channel_id text NOT NULL, seq bigint NOT NULL, content text NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL, UNIQUE (channel_id, seq));
    CREATE TABLE IF NOT EXISTS naive_events (stream text NOT NULL, seq bigint NOT NULL, type text NOT NULL, data jsonb NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (stream, seq));`);
  app.post<{ Params: { id: string }; Body: { content: string; kind?: string } }>('/channels/:id/messages', async (request, reply) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ head_seq: string }>(
        'INSERT INTO naive_streams (id, head_seq) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET head_seq = naive_streams.head_seq + 1 RETURNING head_seq', [request.params.id]);
      const seq = Number(rows[0].head_seq);
      const message = { id: randomUUID(), channelId: request.params.id, seq, content: request.body.content, kind: request.body.kind ?? 'text', createdAt: new Date().toISOString() };
      await client.query('INSERT INTO naive_messages (id, channel_id, seq, content, kind, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [message.id, message.channelId, seq, message.content, message.kind, message.createdAt]);
      await client.query('INSERT INTO naive_events (stream, seq, type, data, at) VALUES ($1, $2, $3, $4, $5)',
        [message.channelId, seq, 'message', JSON.stringify(message), message.createdAt]);
      await client.query('COMMIT');
      reply.status(201);
      return { data: message };
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  });
}

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
console.log(`LISTENING ${typeof address === 'object' && address ? address.port : 0}`);
}

process.on('disconnect', () => process.exit(0));
void main();
