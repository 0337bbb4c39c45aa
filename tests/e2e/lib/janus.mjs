// janus.mjs: a throwaway Janus (Debian's `janus`, 1.1.2) on 127.0.0.1 for the SFU tests,
// with a configuration folder of its own in a temporary directory; nothing under /etc is read.
//
// What Debian's janus 1.1.2 needs: the binary is /usr/bin/janus; its modules are shared
// objects in /usr/lib/x86_64-linux-gnu/janus/{plugins,transports,events,loggers} (each
// `libjanus_<name>.so` a symlink to `.so.1.1.2`). Janus loads every `.so` of its plugin and
// transport folders, so the helper makes folders of its own holding symlinks to only
// libjanus_videoroom.so, libjanus_audiobridge.so and libjanus_http.so (and empty event and
// logger folders), and points janus.jcfg's *_folder keys at them. It reads
// <configs_folder>/janus.transport.http.jcfg for the HTTP transport (the Janus API on one
// port under /janus, the admin API on another under /admin) and the plugins' own
// janus.plugin.<name>.jcfg (missing is fine: defaults, no static rooms). Token auth is on
// (`token_auth = true`, no token_auth_secret: tokens are the ones added through the admin
// API with `add_token`, which needs the admin secret), so only whoever holds the admin
// secret (Chorus) hands out tokens. ICE gathers on the loopback interface only
// (`ice_enforce_list = "lo"`), with the RTP ports in a range of their own.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

import { makeTempDir } from './server.mjs';
import { delay, freePort } from './util.mjs';

export const JANUS_BIN = process.env.JANUS_BIN ?? 'janus';
export const JANUS_LIB = process.env.JANUS_LIB ?? '/usr/lib/x86_64-linux-gnu/janus';

/** Whether Janus is installed (scripts/deps.sh installs it). */
export const haveJanus = () =>
  fs.existsSync(path.join(JANUS_LIB, 'plugins', 'libjanus_videoroom.so'));

function linkModules(dir, sub, names) {
  const to = path.join(dir, sub);
  fs.mkdirSync(to);
  for (const n of names) fs.symlinkSync(path.join(JANUS_LIB, sub, n), path.join(to, n));
  return to;
}

/**
 * Starts Janus with the HTTP transport on a free port (`url`, the Janus API) and the admin
 * API on another (`adminUrl`, secret `adminSecret`), token auth on. Resolves once it
 * answers {"janus":"info"}; stop() ends it and removes its folder.
 */
export async function startJanus({ rtpPorts = '40000-40999', debugLevel = Number(process.env.JANUS_DEBUG ?? 3) } = {}) {
  const dir = makeTempDir('chorus-janus-');
  const [port, adminPort] = [await freePort(), await freePort()];
  const adminSecret = crypto.randomBytes(16).toString('hex');
  const plugins = linkModules(dir, 'plugins', ['libjanus_videoroom.so', 'libjanus_audiobridge.so']);
  const transports = linkModules(dir, 'transports', ['libjanus_http.so']);
  const conf = path.join(dir, 'conf');
  fs.mkdirSync(conf);
  fs.mkdirSync(path.join(dir, 'events'));
  fs.mkdirSync(path.join(dir, 'loggers'));
  fs.writeFileSync(path.join(conf, 'janus.jcfg'), `general: {
  configs_folder = "${conf}"
  plugins_folder = "${plugins}"
  transports_folder = "${transports}"
  events_folder = "${path.join(dir, 'events')}"
  loggers_folder = "${path.join(dir, 'loggers')}"
  debug_level = ${debugLevel}
  admin_secret = "${adminSecret}"
  token_auth = true
  session_timeout = 60
  server_name = "chorus-test"
}
media: {
  rtp_port_range = "${rtpPorts}"
}
nat: {
  ice_enforce_list = "lo"
  ignore_mdns = true
}
plugins: {
}
transports: {
}
events: {
  broadcast = false
}
`);
  fs.writeFileSync(path.join(conf, 'janus.transport.http.jcfg'), `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  ip = "127.0.0.1"
  port = ${port}
  https = false
}
admin: {
  admin_base_path = "/admin"
  admin_http = true
  admin_ip = "127.0.0.1"
  admin_port = ${adminPort}
  admin_https = false
}
`);
  fs.writeFileSync(path.join(conf, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\n');
  fs.writeFileSync(path.join(conf, 'janus.plugin.audiobridge.jcfg'), 'general: {\n}\n');
  let proc, exited, dead, log = '';
  const launch = () => {
    proc = spawn(JANUS_BIN, ['-C', path.join(conf, 'janus.jcfg'), '-F', conf, '-o'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [proc.stdout, proc.stderr]) {
      s.setEncoding('utf8');
      s.on('data', (d) => (log = (log + d).slice(-20000)));
    }
    dead = false;
    exited = new Promise((resolve) => proc.once('close', resolve));
    exited.then(() => (dead = true));
  };
  launch();
  const url = `http://127.0.0.1:${port}/janus`;
  const adminUrl = `http://127.0.0.1:${adminPort}/admin`;
  const janus = {
    url,
    adminUrl,
    adminSecret,
    get pid() { return proc.pid; },
    get log() { return log; },
    /** POSTs body to the Janus API (path after /janus); resolves with the JSON reply. */
    async post(sub, body) {
      const res = await fetch(url + sub, { method: 'POST', body: JSON.stringify(body) });
      return res.json();
    },
    /** POSTs body to the admin API (path sub after /admin: a session's is `/<id>`) with
     *  the admin secret; resolves with the JSON reply. */
    async admin(body, sub = '') {
      const res = await fetch(adminUrl + sub, {
        method: 'POST',
        body: JSON.stringify({ transaction: crypto.randomUUID(), admin_secret: adminSecret, ...body }),
      });
      return res.json();
    },
    /** The tokens Janus holds now (admin list_tokens). */
    async tokens() {
      const r = await janus.admin({ janus: 'list_tokens' });
      return (r.data?.tokens ?? []).map((t) => t.token);
    },
    /** The VideoRoom rooms Janus holds now, through a session and handle of a fresh
     *  admin-added token. */
    async rooms() {
      const token = `list-${crypto.randomUUID()}`;
      await janus.admin({ janus: 'add_token', token });
      try {
        const tx = () => crypto.randomUUID();
        const s = await janus.post('', { janus: 'create', transaction: tx(), token });
        const h = await janus.post(`/${s.data.id}`,
          { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: tx(), token });
        const r = await janus.post(`/${s.data.id}/${h.data.id}`,
          { janus: 'message', body: { request: 'list' }, transaction: tx(), token });
        await janus.post(`/${s.data.id}`, { janus: 'destroy', transaction: tx(), token });
        return r.plugindata.data.list;
      } finally {
        await janus.admin({ janus: 'remove_token', token });
      }
    },
    async stop() {
      if (!dead) proc.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
    /** A crash and a restart: kill -9, then the same Janus (ports, secret, configuration)
     *  again, with none of its sessions, tokens or rooms; resolves once it answers. */
    async restart() {
      if (!dead) proc.kill('SIGKILL');
      await exited;
      launch();
      await ready();
    },
  };
  const ready = async () => {
    const end = Date.now() + 30000;
    for (;;) {
      if (dead) throw new Error(`janus exited at start: ${log}`);
      try {
        const r = await (await fetch(`${url}/info`)).json();
        if (r.janus === 'server_info') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) {
        await janus.stop();
        throw new Error(`janus did not become ready: ${log}`);
      }
      await delay(100);
    }
  };
  await ready();
  return janus;
}
