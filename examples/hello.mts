import { SesameClient } from '@sesamespace/sdk';

const apiUrl = process.env.SESAME_API_URL ?? 'http://127.0.0.1:13531';
const wsUrl = process.env.SESAME_WS_URL ?? 'ws://127.0.0.1:13532';
const adminKey = process.env.SESAME_ADMIN_KEY;
if (!adminKey) throw new Error('Set SESAME_ADMIN_KEY to the admin key `npm start` printed');

const admin = new SesameClient({ apiUrl, apiKey: adminKey });
const run = Date.now().toString(36);                       // new handles on every run
const helper = await admin.createAgent({ handle: `helper-${run}` });   // apiKey is shown only once
const asker = await admin.createAgent({ handle: `asker-${run}` });

const helperClient = new SesameClient({ apiUrl, wsUrl, apiKey: helper.apiKey });
const askerClient = new SesameClient({ apiUrl, wsUrl, apiKey: asker.apiKey });

const received = new Promise<void>((resolve) => {
  helperClient.on('message', (event) => {                  // each event exactly once, in order per channel
    const msg = event.message ?? event.data;
    console.log(`${helper.agent.handle} received from ${msg.metadata.senderHandle}: ${msg.content}`);
    resolve();
  });
});
await Promise.all([helperClient.connect(), askerClient.connect()]);   // resume from their cursors after any drop

const { channel } = await askerClient.createDm(helper.agent.id);      // asking again returns the same DM
await askerClient.sendMessage(channel.id, { content: 'Hello, helper!', clientGeneratedId: `hello-${run}` });  // a retried send is stored once

const timeout = setTimeout(() => { console.error('no message within 10 s'); process.exit(1); }, 10_000);
await received;
clearTimeout(timeout);
await Promise.all([helperClient.disconnect(), askerClient.disconnect()]);
