// front.mjs: the cluster mode's front door (CHORUS_TEST_CLUSTER=1, lib/server.mjs): a TCP
// listener on 127.0.0.1 in the test process that hands each connection to the next live
// node, round-robin, as a load balancer would, and then copies bytes both ways untouched.
// WebSocket upgrades and plain HTTP requests take turns separately (the i-th WebSocket of a
// test goes to node i mod N, and so does its i-th HTTP connection), so the clients a test
// opens one after another land on different nodes whatever REST calls come between them.
import net from 'node:net';

const UPGRADE_RE = /\r\nupgrade:[ \t]*websocket/i;

export class Front {
  /** nodes: () => the ports of the live nodes, in order. */
  constructor(nodes) {
    this.nodes = nodes;
    this.turn = { ws: 0, http: 0 };
    this.sockets = new Set();
    this.routes = new Map(); // a client's port (its socket's localPort) -> the node port it got
    this.server = net.createServer({ allowHalfOpen: true }, (c) => this.#accept(c));
    this.port = null;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  /** The next node's port for a connection of kind ('ws' or 'http'); null when none is up. */
  pick(kind) {
    const up = this.nodes();
    if (!up.length) return null;
    return up[this.turn[kind]++ % up.length];
  }

  #accept(client) {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    // The node is chosen at the first bytes (the request's head), which say whether it is a
    // WebSocket upgrade; a connection closed before sending anything reaches no node.
    let started = false;
    client.once('end', () => {
      if (!started) client.destroy();
    });
    client.once('data', (first) => {
      started = true;
      client.pause();
      const port = this.pick(UPGRADE_RE.test(first.toString('latin1')) ? 'ws' : 'http');
      if (port === null) return client.destroy();
      this.routes.set(client.remotePort, port);
      const up = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      this.sockets.add(up);
      up.on('close', () => this.sockets.delete(up));
      up.on('error', () => (client.resetAndDestroy ? client.resetAndDestroy() : client.destroy()));
      client.on('error', () => up.destroy());
      client.on('close', () => up.destroy());
      up.once('connect', () => {
        up.write(first);
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    });
  }

  /** The node port that the connection from the client port localPort was given (or undefined). */
  routeOf(localPort) {
    return this.routes.get(localPort);
  }

  /** Stops listening and drops every connection still open. */
  close() {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Starts a front over nodes (see Front); resolves it once it listens. */
export const startFront = (nodes) => new Front(nodes).listen();
