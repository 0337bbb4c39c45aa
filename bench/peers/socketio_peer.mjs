// socketio_peer.mjs: a minimal room server on Socket.IO 4, speaking the subset of the
// Chorus protocol chorus-bench uses (see peer_rooms.mjs) as Socket.IO events: the client
// emits the op as the event name with the Chorus JSON object as its argument, and gets
// replies and events the same way (42["reply",{...}]). Rooms are Socket.IO rooms, so a
// broadcast is socket.to(room).emit(), encoded once by Socket.IO. Benchmark peer only.
//   node bench/peers/socketio_peer.mjs PORT  (127.0.0.1:PORT, /socket.io/?EIO=4&transport=websocket)
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { Rooms, userOfToken, peerPort } from './peer_rooms.mjs';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 1 << 20 });

const rooms = new Rooms({
  send: (member, op, obj) => member.emit(op, obj),
  broadcast: (id, except, op, obj) => except.to(id).emit(op, obj),
});
io.on('connection', (socket) => {
  const user = userOfToken(socket.handshake.query.token);
  // What Rooms needs of a member: its room ids, an emit, and the room broadcast (socket.to()
  // leaves the sender out, as Chorus does). Socket.IO's own rooms carry the fan-out.
  const member = { rooms: new Set(), to: (id) => socket.to(id), emit: (op, obj) => socket.emit(op, obj) };
  for (const op of ['echo', 'join', 'leave', 'broadcast', 'message']) {
    socket.on(op, (msg) => {
      if (op === 'join' && msg && typeof msg.room === 'string') socket.join(msg.room);
      if (op === 'leave' && msg && typeof msg.room === 'string') socket.leave(msg.room);
      rooms.handle(member, user, msg);
    });
  }
  socket.on('disconnect', () => rooms.drop(member, user, null, 'disconnected'));
});
http.listen(peerPort(), '127.0.0.1', () => console.log(`socketio peer listening on 127.0.0.1:${http.address().port}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
