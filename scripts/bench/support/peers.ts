import { spawnBenchProcess, type Child } from './child.js';

export interface PeerServer { child: Child; url: string; port: number }

/** Socket.IO 4 server process (see socketio-server.ts): Redis adapter when `redisUrl` is given; nodes sharing `redisKey` form one cluster. */
export async function startSocketIoServer(options: { redisUrl?: string; redisKey?: string; recovery?: boolean; nodeArgs?: string[]; label?: string } = {}): Promise<PeerServer> {
  const child = spawnBenchProcess('support/socketio-server.ts', options.label ?? 'socket.io server', {
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl, REDIS_KEY: options.redisKey ?? 'socket.io' } : {}),
    ...(options.recovery ? { RECOVERY: '1' } : {}),
  }, options.nodeArgs);
  const port = Number((await child.waitForOutput(/LISTENING (\d+)/))[1]);
  return { child, port, url: `http://127.0.0.1:${port}` };
}

/** Bare `ws` broadcast server process (see ws-broadcast-server.ts). */
/** With `databaseUrl`, each frame is first written durably (see ws-broadcast-server.ts). */
export async function startWsServer(options: { nodeArgs?: string[]; databaseUrl?: string } = {}): Promise<PeerServer> {
  const child = spawnBenchProcess('support/ws-broadcast-server.ts', options.databaseUrl ? 'ws durable server' : 'ws server',
    options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}, options.nodeArgs);
  const port = Number((await child.waitForOutput(/LISTENING (\d+)/))[1]);
  return { child, port, url: `ws://127.0.0.1:${port}` };
}
