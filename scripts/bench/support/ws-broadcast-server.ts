/**
 * Bare `ws` broadcast server (child process): the ceiling, with no persistence, no Redis, no
 * auth. A client on `/send` is the sender; each of its messages is sent as-is to every other
 * client. Prints `LISTENING <port>` when ready.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const subscribers = new Set<WebSocket>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });

wss.on('connection', (ws, request) => {
  if (request.url === '/send') {
    ws.on('message', (data) => {
      for (const subscriber of subscribers) subscriber.send(data, { binary: false });
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
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0)); // the bench went away
