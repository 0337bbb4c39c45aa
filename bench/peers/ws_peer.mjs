// ws_peer.mjs: a minimal room server on the ws 8 package, speaking the subset of the Chorus
// JSON protocol chorus-bench uses (see peer_rooms.mjs). Benchmark peer, not a product.
//   node bench/peers/ws_peer.mjs PORT     (listens on 127.0.0.1:PORT, /ws?token=...)
import { WebSocketServer } from 'ws';
import { Rooms, userOfToken, peerPort } from './peer_rooms.mjs';

const rooms = new Rooms({
  send: (ws, _op, obj) => ws.send(JSON.stringify(obj)),
  broadcast: (id, except, _op, obj) => {
    const text = JSON.stringify(obj); // encoded once; ws frames it per receiver
    for (const ws of rooms.members(id)) if (ws !== except) ws.send(text);
  },
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: peerPort(), maxPayload: 1 << 20 });
wss.on('connection', (ws, req) => {
  const user = userOfToken(new URL(req.url, 'http://127.0.0.1').searchParams.get('token'));
  ws.rooms = new Set();
  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(isBinary ? '' : data);
    } catch {
      ws.send(JSON.stringify({ op: 'error', error: { code: 'bad_json', message: 'not JSON' } }));
      return;
    }
    rooms.handle(ws, user, msg);
  });
  ws.on('close', () => rooms.drop(ws, user, null, 'disconnected'));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`ws peer listening on 127.0.0.1:${wss.address().port}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
