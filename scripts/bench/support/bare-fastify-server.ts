/**
 * Bare Fastify route (child process): the HTTP ceiling for the vault bench. `POST /use` checks a
 * bearer header and answers the same JSON shape as `useSecret` (three fields) — no auth lookup,
 * no database, no crypto. Prints `LISTENING <port>` when ready.
 */
import Fastify from 'fastify';

const fields = { username: 'bench-user', password: 'bench-password-0123456789abcdef', url: 'postgres://db.bench.internal:5432/app' };
const app = Fastify({ logger: false });
app.post('/use', async (request, reply) => {
  if (!request.headers.authorization?.startsWith('Bearer ')) return reply.status(401).send({ error: 'unauthorized' });
  void reply.header('cache-control', 'no-store');
  return { data: { fields } };
});
void app.listen({ host: '127.0.0.1', port: 0 }).then((address) => {
  process.stdout.write(`LISTENING ${new URL(address).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0)); // the bench went away
