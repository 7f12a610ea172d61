/**
 * Socket.IO 4 peer server (child process). Every client except the sender joins one room; the
 * sender's `send` is broadcast to the room. Env:
 *   REDIS_URL  use @socket.io/redis-adapter on this Redis (else the default in-memory adapter)
 *   REDIS_KEY  the adapter's channel prefix: nodes with the same key form one cluster
 *   RECOVERY=1 enable connection-state recovery (in-memory adapter only: the Redis adapter
 *              does not implement it)
 * Prints `LISTENING <port>` when ready.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const ROOM = 'bench';
const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  ...(process.env.RECOVERY === '1' ? { connectionStateRecovery: { maxDisconnectionDuration: 10 * 60_000, skipMiddlewares: true } } : {}),
});

if (process.env.REDIS_URL) {
  const pub = new Redis(process.env.REDIS_URL);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub, { key: process.env.REDIS_KEY ?? 'socket.io' }));
}

io.on('connection', (socket) => {
  if (socket.handshake.auth.role === 'sender') {
    socket.on('send', (content: string, ack?: () => void) => {
      io.to(ROOM).emit('message', content);
      if (typeof ack === 'function') ack();
    });
    return;
  }
  void socket.join(ROOM);
});

httpServer.listen(0, '127.0.0.1', () => {
  const address = httpServer.address();
  process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0)); // the bench went away
