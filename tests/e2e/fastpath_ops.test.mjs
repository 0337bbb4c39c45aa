// fastpath_ops.test.mjs: doc_op and entity_update read their frame with the envelope
// scanner (src/util/jscan.c) and parse only the op's delta or the entity's patch; every
// reply, error and event is byte for byte what the Jansson tree gave before (the expected
// texts below were recorded from the server before the change). Frames the scanner leaves
// to Jansson (an escaped key, many keys) and every refusal take the same answer.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, mkUser, roomWith } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';

const T = { timeout: 20000 };
const RECORD = process.env.RECORD; // a file: the replies are written there, not checked

/** Resolves with the next text frame of ws (the `ws` object) whose text matches re. */
function nextRaw(ws, re) {
  return withTimeout(new Promise((resolve) => {
    const on = (data, isBinary) => {
      const s = data.toString('utf8');
      if (isBinary || !re.test(s)) return;
      ws.off('message', on);
      resolve(s);
    };
    ws.on('message', on);
  }), 5000, `a frame matching ${re}`);
}

/** Sends text from c and returns its reply (by ref), with vars put back as ${name}. */
async function exchange(c, ref, text, vars) {
  const got = nextRaw(c.ws, new RegExp(`^\\{"op":"reply","ref":${ref},`));
  c.send(text);
  return unfill(await got, vars);
}

const fill = (s, vars) => s.replace(/\$\{(\w+)\}/g, (_, k) => vars[k]);
const unfill = (s, vars) => {
  let out = s;
  for (const [k, v] of Object.entries(vars)) out = out.split(v).join(`\${${k}}`);
  return out.replace(/"(updatedAt|createdAt|expiresAt)":\d+/g, '"$1":T');
};

/** Runs the [frame, expected reply] cases from c in order (ref n is the case's index + 1). */
async function runCases(c, cases, vars) {
  for (let i = 0; i < cases.length; i++) {
    const [frame, want] = cases[i];
    const got = await exchange(c, i + 1, fill(frame, { ...vars, ref: String(i + 1) }), vars);
    if (RECORD) appendFileSync(RECORD, `${JSON.stringify([frame, got])},\n`);
    else assert.equal(got, want, frame);
  }
}

describe('doc_op and entity_update on the scanner: the same bytes as the tree', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('doc_op: replies, refusals and the event', T, async () => {
    const [ann, bob] = [mkUser('Ann'), mkUser('Bob')];
    const { room, cs } = await roomWith(srv.port, [ann, bob]);
    const vars = { room: room.id, ann: ann.sub, bob: bob.sub };
    try {
      await cs[0].ok('doc_open', { room: room.id, doc: 'd1' });
      await cs[1].ok('doc_open', { room: room.id, doc: 'd1' });
      const events = [];
      cs[1].ws.on('message', (m) => {
        const t = m.toString('utf8');
        if (t.startsWith('{"op":"doc_op"')) events.push(unfill(t, vars));
      });
      const env = (fields) => `{"op":"doc_op","ref":\${ref},"room":"\${room}",${fields}}`;
      const many = Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',');
      const CASES = DOC_CASES(env, many);
      const last = nextRaw(cs[1].ws, /"opId":"last"/);
      await runCases(cs[0], CASES, vars);
      // The event of each op applied, to the other subscriber, in order.
      await last;
      if (RECORD) appendFileSync(RECORD, `${JSON.stringify(events)}\n`);
      else assert.deepEqual(events, DOC_EVENTS);
    } finally {
      closeAll(cs);
    }
  });

  it('entity_update: transient and durable, replies, refusals and events', T, async () => {
    const [ann, bob] = [mkUser('Ann'), mkUser('Bob')];
    const { room, cs } = await roomWith(srv.port, [ann, bob]);
    const vars = { room: room.id, ann: ann.sub, bob: bob.sub };
    try {
      // Listening first: the create's event may reach Bob before Ann's reply reaches Ann.
      const events = [];
      cs[1].ws.on('message', (m) => {
        const t = m.toString('utf8');
        if (t.startsWith('{"op":"entity"')) events.push(unfill(t, vars));
      });
      await cs[0].ok('entity_create', { room: room.id, id: 'box', kind: 'k', data: { x: 0 } });
      const env = (fields) => `{"op":"entity_update","ref":\${ref},"room":"\${room}",${fields}}`;
      const many = Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',');
      const last = nextRaw(cs[1].ws, /"last":true/);
      await runCases(cs[0], ENTITY_CASES(env, many), vars);
      await last;
      if (RECORD) appendFileSync(RECORD, `${JSON.stringify(events)}\n`);
      else assert.deepEqual(events, ENTITY_EVENTS);
    } finally {
      closeAll(cs);
    }
  });
});

// [frame, the reply main's server sent]: ${ref}, ${room}, ${ann} are filled in.
const DOC_CASES = (env, many) => [
  [env('"doc":"d1","version":0,"delta":["hé"],"opId":"a1"'),
    '{"op":"reply","ref":1,"ok":true,"data":{"version":1}}'],
  [env(' "doc" : "d1" , "version" : 1, "delta" : [ 2 , "\\u00e9\\/x" ], "opId" : null '),
    '{"op":"reply","ref":2,"ok":true,"data":{"version":2}}'],
  [env('"doc":"d1","version":2,"delta":["P"],"opId":"a3"'),
    '{"op":"reply","ref":3,"ok":true,"data":{"version":3}}'],
  [env('"doc":"d1","version":2,"delta":[5,"!"],"opId":"a4"'),
    '{"op":"reply","ref":4,"ok":true,"data":{"version":4}}'],
  [env('"doc":"d1","version":0,"delta":["hé"],"opId":"a1"'),
    '{"op":"reply","ref":5,"ok":true,"data":{"version":1,"duplicate":true}}'],
  [env('"doc":"d1","delta":["x"]'),
    '{"op":"reply","ref":6,"ok":false,"error":{"code":"validation_error","field":"version","message":"version must be a non-negative integer"}}'],
  [env('"doc":"d1","version":-1,"delta":["x"]'),
    '{"op":"reply","ref":7,"ok":false,"error":{"code":"validation_error","field":"version","message":"version must be a non-negative integer"}}'],
  [env('"doc":"d1","version":1.5,"delta":["x"]'),
    '{"op":"reply","ref":8,"ok":false,"error":{"code":"validation_error","field":"version","message":"version must be a non-negative integer"}}'],
  [env('"doc":"d1","version":"1","delta":["x"]'),
    '{"op":"reply","ref":9,"ok":false,"error":{"code":"validation_error","field":"version","message":"version must be a non-negative integer"}}'],
  [env('"doc":"d1","version":99,"delta":["x"]'),
    '{"op":"reply","ref":10,"ok":false,"error":{"code":"validation_error","field":"version","message":"version is ahead of the document"}}'],
  [env(`"doc":"d1","version":4,"delta":["x"],"opId":"${'o'.repeat(65)}"`),
    '{"op":"reply","ref":11,"ok":false,"error":{"code":"validation_error","field":"opId","message":"opId must be a string of at most 64 bytes without U+0000"}}'],
  [env('"doc":"d1","version":4,"delta":["x"],"opId":7'),
    '{"op":"reply","ref":12,"ok":false,"error":{"code":"validation_error","field":"opId","message":"opId must be a string of at most 64 bytes without U+0000"}}'],
  [env('"doc":"d1","version":4,"delta":["x"],"opId":"a\\u0000b"'),
    '{"op":"reply","ref":13,"ok":false,"error":{"code":"validation_error","field":"opId","message":"opId must be a string of at most 64 bytes without U+0000"}}'],
  [env('"doc":"d1","version":4'),
    '{"op":"reply","ref":14,"ok":false,"error":{"code":"validation_error","field":"delta","message":"delta (the operation) is required"}}'],
  [env('"doc":"d1","version":4,"delta":"x"'),
    '{"op":"reply","ref":15,"ok":false,"error":{"code":"invalid_op","message":"op must be an array"}}'],
  [env('"doc":"d1","version":4,"delta":null'),
    '{"op":"reply","ref":16,"ok":false,"error":{"code":"invalid_op","message":"op must be an array"}}'],
  [env('"doc":"d1","version":4,"delta":[0]'),
    '{"op":"reply","ref":17,"ok":false,"error":{"code":"invalid_op","message":"skip must be a positive integer"}}'],
  [env('"doc":"d1","version":4,"delta":[1.5]'),
    '{"op":"reply","ref":18,"ok":false,"error":{"code":"invalid_op","message":"skip must be an integer"}}'],
  [env('"doc":"d1","version":4,"delta":[2.0]'),
    '{"op":"reply","ref":19,"ok":false,"error":{"code":"invalid_op","message":"skip must be an integer"}}'],
  [env('"doc":"d1","version":4,"delta":[-0]'),
    '{"op":"reply","ref":20,"ok":false,"error":{"code":"invalid_op","message":"skip must be a positive integer"}}'],
  [env('"doc":"d1","version":4,"delta":[9007199254740992]'),
    '{"op":"reply","ref":21,"ok":false,"error":{"code":"invalid_op","message":"skip too long"}}'],
  [env('"doc":"d1","version":4,"delta":[{"d":1,"x":2}]'),
    '{"op":"reply","ref":22,"ok":false,"error":{"code":"invalid_op","message":"object component must be {\\"d\\": N} or {\\"d\\": \\"text\\"}"}}'],
  [env('"doc":"d1","version":4,"delta":[{"d":0}]'),
    '{"op":"reply","ref":23,"ok":false,"error":{"code":"invalid_op","message":"delete must be a positive integer"}}'],
  [env('"doc":"d1","version":4,"delta":[[1]]'),
    '{"op":"reply","ref":24,"ok":false,"error":{"code":"invalid_op","message":"component must be a number, a string or {\\"d\\": ...}"}}'],
  [env('"doc":"d1","version":4,"delta":[99,"x"]'),
    '{"op":"reply","ref":25,"ok":false,"error":{"code":"invalid_op","message":"the op runs past the end of the document"}}'],
  [env('"doc":"d1","version":4,"delta":["\\u0000"]'),
    '{"op":"reply","ref":26,"ok":false,"error":{"code":"invalid_op","message":"U+0000 is not allowed in documents"}}'],
  [env('"version":4,"delta":["x"]'),
    '{"op":"reply","ref":27,"ok":false,"error":{"code":"validation_error","field":"doc","message":"doc must be a string of 1 to 128 bytes"}}'],
  [env('"doc":"","version":4,"delta":["x"]'),
    '{"op":"reply","ref":28,"ok":false,"error":{"code":"validation_error","field":"doc","message":"doc must be a string of 1 to 128 bytes"}}'],
  [env(`"doc":"${'a'.repeat(129)}","version":4,"delta":["x"]`),
    '{"op":"reply","ref":29,"ok":false,"error":{"code":"validation_error","field":"doc","message":"doc must be a string of 1 to 128 bytes"}}'],
  [env('"doc":"d\\u0000","version":4,"delta":["x"]'),
    '{"op":"reply","ref":30,"ok":false,"error":{"code":"validation_error","field":"doc","message":"doc must be a string of 1 to 128 bytes"}}'],
  [env('"doc":5,"version":4,"delta":["x"]'),
    '{"op":"reply","ref":31,"ok":false,"error":{"code":"validation_error","field":"doc","message":"doc must be a string of 1 to 128 bytes"}}'],
  [env('"doc":"d2","version":4,"delta":["x"]'),
    '{"op":"reply","ref":32,"ok":false,"error":{"code":"forbidden","message":"open the document first (doc_open)"}}'],
  ['{"op":"doc_op","ref":${ref},"doc":"d1","version":4,"delta":["x"]}',
    '{"op":"reply","ref":33,"ok":false,"error":{"code":"bad_request","message":"room (an id or a code) is required"}}'],
  [env(`"doc":"d1","version":4,"delta":["x"],"opId":"${'o'.repeat(64)}"`),
    '{"op":"reply","ref":34,"ok":true,"data":{"version":5}}'],
  [env('"doc":"\\u00641","version":5,"delta":[{"d":1}],"opId":"é"'),
    '{"op":"reply","ref":35,"ok":true,"data":{"version":6}}'],
  [env('"doc":"d1","version":6,"delta":[{"\\u0064":1}]'),
    '{"op":"reply","ref":36,"ok":true,"data":{"version":7}}'],
  [env('"doc":"d1","version":7,"d\\u0065lta":[1,"k"]'),
    '{"op":"reply","ref":37,"ok":true,"data":{"version":8}}'],
  [env(`"doc":"d1",${many},"version":8,"delta":[{"d":"k"}]`),
    '{"op":"reply","ref":38,"ok":true,"data":{"version":9}}'],
  [env('"doc":"d1","version":9,"delta":[1, {"d" : "é"}, 2, "\\ud83d\\ude00\\n\\"\\u001f"],"opId":"last"'),
    '{"op":"reply","ref":39,"ok":true,"data":{"version":10}}'],
];
const DOC_EVENTS = [
  '{"op":"doc_op","room":"${room}","doc":"d1","version":1,"delta":["hé"],"author":"${ann}","opId":"a1"}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":2,"delta":[2,"é/x"],"author":"${ann}","opId":""}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":3,"delta":["P"],"author":"${ann}","opId":"a3"}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":4,"delta":[6,"!"],"author":"${ann}","opId":"a4"}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":5,"delta":["x"],"author":"${ann}","opId":"oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":6,"delta":[{"d":1}],"author":"${ann}","opId":"é"}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":7,"delta":[{"d":1}],"author":"${ann}","opId":""}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":8,"delta":[1,"k"],"author":"${ann}","opId":""}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":9,"delta":[{"d":1}],"author":"${ann}","opId":""}',
  '{"op":"doc_op","room":"${room}","doc":"d1","version":10,"delta":[1,{"d":1},2,"😀\\n\\"\\u001F"],"author":"${ann}","opId":"last"}',
];

const ENTITY_CASES = (env, many) => [
  [env('"id":"box","patch":{"x" : 1.50, "y":"\\u00e9"},"transient":true'),
    '{"op":"reply","ref":1,"ok":true,"data":{"id":"box","transient":true}}'],
  [env('"id":"box","patch":{"x":2},"transient":true'),
    '{"op":"reply","ref":2,"ok":true,"data":{"id":"box","transient":true}}'],
  [env('"id":"box","patch":{"z":[1, 2.0]}'),
    '{"op":"reply","ref":3,"ok":true,"data":{"entity":{"id":"box","kind":"k","data":{"x":2,"y":"é","z":[1,2.0]},"owner":"${ann}","version":2,"stateVersion":4,"createdAt":T,"updatedAt":T}}}'],
  [env('"id":"box","patch":{"z":null},"baseVersion":2'),
    '{"op":"reply","ref":4,"ok":true,"data":{"entity":{"id":"box","kind":"k","data":{"x":2,"y":"é"},"owner":"${ann}","version":3,"stateVersion":5,"createdAt":T,"updatedAt":T}}}'],
  [env('"id":"box","patch":{"z":1},"baseVersion":1'),
    '{"op":"reply","ref":5,"ok":false,"error":{"code":"conflict","message":"the entity changed since baseVersion","entity":{"id":"box","kind":"k","data":{"x":2,"y":"é"},"owner":"${ann}","version":3,"stateVersion":5,"createdAt":T,"updatedAt":T}}}'],
  [env('"patch":{"x":1}'),
    '{"op":"reply","ref":6,"ok":false,"error":{"code":"validation_error","field":"id","message":"id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"}}'],
  [env('"id":5,"patch":{"x":1}'),
    '{"op":"reply","ref":7,"ok":false,"error":{"code":"validation_error","field":"id","message":"id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"}}'],
  [env('"id":"bad id","patch":{"x":1}'),
    '{"op":"reply","ref":8,"ok":false,"error":{"code":"validation_error","field":"id","message":"id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"}}'],
  [env('"id":"nope","patch":{"x":1}'),
    '{"op":"reply","ref":9,"ok":false,"error":{"code":"not_found","message":"no such entity"}}'],
  [env('"id":"bo\\u0000x","patch":{"x":1}'),
    '{"op":"reply","ref":10,"ok":false,"error":{"code":"not_found","message":"no such entity"}}'],
  [env(`"id":"${'a'.repeat(200)}","patch":{"x":1}`),
    '{"op":"reply","ref":11,"ok":false,"error":{"code":"validation_error","field":"id","message":"id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"}}'],
  [env('"id":"box","patch":{"x":1},"transient":1'),
    '{"op":"reply","ref":12,"ok":false,"error":{"code":"validation_error","field":"transient","message":"transient must be true or false"}}'],
  [env('"id":"box","patch":{"x":1},"transient":null'),
    '{"op":"reply","ref":13,"ok":false,"error":{"code":"validation_error","field":"transient","message":"transient must be true or false"}}'],
  [env('"id":"box","patch":{"x":1},"ownerOnly":1'),
    '{"op":"reply","ref":14,"ok":false,"error":{"code":"validation_error","field":"ownerOnly","message":"ownerOnly must be true or false"}}'],
  [env('"id":"box","patch":{"x":1},"baseVersion":-1'),
    '{"op":"reply","ref":15,"ok":false,"error":{"code":"validation_error","field":"baseVersion","message":"baseVersion must be a non-negative integer"}}'],
  [env('"id":"box","patch":{"x":1},"baseVersion":1.5'),
    '{"op":"reply","ref":16,"ok":false,"error":{"code":"validation_error","field":"baseVersion","message":"baseVersion must be a non-negative integer"}}'],
  [env('"id":"box","patch":{"x":1},"transient":true,"baseVersion":1'),
    '{"op":"reply","ref":17,"ok":false,"error":{"code":"validation_error","field":"baseVersion","message":"baseVersion cannot be combined with transient"}}'],
  [env('"id":"box","patch":{"x":1},"transient":true,"ownerOnly":true'),
    '{"op":"reply","ref":18,"ok":false,"error":{"code":"validation_error","field":"ownerOnly","message":"ownerOnly cannot be combined with transient"}}'],
  [env('"id":"box","transient":true'),
    '{"op":"reply","ref":19,"ok":false,"error":{"code":"validation_error","field":"patch","message":"must be a JSON object"}}'],
  [env('"id":"box"'),
    '{"op":"reply","ref":20,"ok":false,"error":{"code":"validation_error","field":"patch","message":"must be a JSON object"}}'],
  [env('"id":"box","patch":"x"'),
    '{"op":"reply","ref":21,"ok":false,"error":{"code":"validation_error","field":"patch","message":"must be a JSON object"}}'],
  [env('"id":"box","patch":null,"transient":true'),
    '{"op":"reply","ref":22,"ok":false,"error":{"code":"validation_error","field":"patch","message":"must be a JSON object"}}'],
  [env('"id":"box","ownerOnly":true'),
    '{"op":"reply","ref":23,"ok":true,"data":{"entity":{"id":"box","kind":"k","data":{"x":2,"y":"é"},"owner":"${ann}","version":4,"stateVersion":6,"createdAt":T,"updatedAt":T,"ownerOnly":true}}}'],
  [env('"id":"b\\u006fx","patch":{"w":{"a":[true,false,null]}},"baseVersion":null,"transient":false'),
    '{"op":"reply","ref":24,"ok":true,"data":{"entity":{"id":"box","kind":"k","data":{"x":2,"y":"é","w":{"a":[true,false,null]}},"owner":"${ann}","version":5,"stateVersion":7,"createdAt":T,"updatedAt":T,"ownerOnly":true}}}'],
  [env('"id":"box","p\\u0061tch":{"x":3},"transient":true'),
    '{"op":"reply","ref":25,"ok":true,"data":{"id":"box","transient":true}}'],
  [env(`"id":"box",${many},"patch":{"x":4}`),
    '{"op":"reply","ref":26,"ok":true,"data":{"entity":{"id":"box","kind":"k","data":{"x":4,"y":"é","w":{"a":[true,false,null]}},"owner":"${ann}","version":6,"stateVersion":9,"createdAt":T,"updatedAt":T,"ownerOnly":true}}}'],
  [env('"id":"box","patch":{"last":true, "q":0.1},"transient":true'),
    '{"op":"reply","ref":27,"ok":true,"data":{"id":"box","transient":true}}'],
];
const ENTITY_EVENTS = [
  '{"op":"entity","room":"${room}","action":"create","stateVersion":1,"by":"${ann}","entity":{"id":"box","kind":"k","data":{"x":0},"owner":"${ann}","version":1,"stateVersion":1,"createdAt":T,"updatedAt":T}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":2,"by":"${ann}","transient":true,"entity":{"id":"box","kind":"k","data":{"x":1.5,"y":"é"},"owner":"${ann}","version":1,"stateVersion":2,"createdAt":T,"updatedAt":T}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":3,"by":"${ann}","transient":true,"entity":{"id":"box","kind":"k","data":{"x":2,"y":"é"},"owner":"${ann}","version":1,"stateVersion":3,"createdAt":T,"updatedAt":T}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":4,"by":"${ann}","entity":{"id":"box","kind":"k","data":{"x":2,"y":"é","z":[1,2.0]},"owner":"${ann}","version":2,"stateVersion":4,"createdAt":T,"updatedAt":T}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":5,"by":"${ann}","entity":{"id":"box","kind":"k","data":{"x":2,"y":"é"},"owner":"${ann}","version":3,"stateVersion":5,"createdAt":T,"updatedAt":T}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":6,"by":"${ann}","entity":{"id":"box","kind":"k","data":{"x":2,"y":"é"},"owner":"${ann}","version":4,"stateVersion":6,"createdAt":T,"updatedAt":T,"ownerOnly":true}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":7,"by":"${ann}","entity":{"id":"box","kind":"k","data":{"x":2,"y":"é","w":{"a":[true,false,null]}},"owner":"${ann}","version":5,"stateVersion":7,"createdAt":T,"updatedAt":T,"ownerOnly":true}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":8,"by":"${ann}","transient":true,"entity":{"id":"box","kind":"k","data":{"x":3,"y":"é","w":{"a":[true,false,null]}},"owner":"${ann}","version":5,"stateVersion":8,"createdAt":T,"updatedAt":T,"ownerOnly":true}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":9,"by":"${ann}","entity":{"id":"box","kind":"k","data":{"x":4,"y":"é","w":{"a":[true,false,null]}},"owner":"${ann}","version":6,"stateVersion":9,"createdAt":T,"updatedAt":T,"ownerOnly":true}}',
  '{"op":"entity","room":"${room}","action":"update","stateVersion":10,"by":"${ann}","transient":true,"entity":{"id":"box","kind":"k","data":{"x":4,"y":"é","w":{"a":[true,false,null]},"last":true,"q":0.10000000000000001},"owner":"${ann}","version":6,"stateVersion":10,"createdAt":T,"updatedAt":T,"ownerOnly":true}}',
];
