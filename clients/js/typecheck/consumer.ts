// consumer.ts: a TypeScript program using the SDK's public API, type-checked (never run)
// against the generated chorus.d.ts by `make sdk` (scripts/sdk-types.sh --check). Every
// `@ts-expect-error` line proves that a type is precise (not `any`): it must not compile.
import Default, {
  Assets, Chorus, ChorusError, Doc, Entities, Room, mergePatch, textType,
  type Asset, type Ban, type ChorusOptions, type ConnectionState, type Entity, type EntityEvent,
  type EntityLock, type EntitySource, type Handler, type HistoryPage, type Message, type Participant,
  type ParticipantPage, type ParticipantQuery,
  type RemoteCursor, type RoomInfo, type RoomSettings, type RoomSummary, type Session,
  type SyncResult, type TextOp, type UploadOptions, type User,
} from '../chorus.js';

const same: typeof Chorus = Default;
const options: ChorusOptions = { url: 'http://127.0.0.1:8080', requestTimeout: 5000, reconnect: { base: 100, max: 1000, enabled: true }, historyPage: 50, maxMessages: 100 };
// @ts-expect-error requestTimeout is a number
const badOptions: ChorusOptions = { requestTimeout: 'soon' };

async function client(): Promise<void> {
  const chorus = new Chorus(options);
  const state: ConnectionState = chorus.state;
  const token: string | undefined = chorus.token;
  chorus.token = 'fresh';
  const name: string | null | undefined = chorus.user?.name;
  const rooms: Map<string, Room> = chorus.rooms;

  const session: Session = await chorus.register('a@example.com', 'pw', 'Ada');
  const s2: Session = await chorus.login('a@example.com', 'pw');
  const userId: string = s2.user_id;
  const me: User = await chorus.me();
  const me2: User = await chorus.updateMe({ username: 'Ada', color: '#fff' });
  // @ts-expect-error updateMe takes known fields
  await chorus.updateMe({ nickname: 'x' });
  const s3: Session = await chorus.changePassword('pw', 'pw2');
  const info: RoomInfo = await chorus.createRoom({ name: 'r', maxParticipants: 3, isPublic: true, state: {} });
  // @ts-expect-error a room needs a name
  await chorus.createRoom({ maxParticipants: 3 });
  const got: RoomInfo = await chorus.getRoom(info.roomCode);
  const mine: RoomInfo[] = await chorus.myRooms();
  const pub: RoomSummary[] = await chorus.publicRooms({ limit: 10 });
  const page: { rooms: RoomSummary[]; nextCursor: string | null } = await chorus.publicRoomsPage({ cursor: null });
  // @ts-expect-error a summary has no state
  page.rooms[0].state;
  const rotated: RoomInfo = await chorus.rotateRoomCode(info.id);
  const settings: RoomSettings = { name: 'n', maxParticipants: 4, isPublic: false };
  const updated: RoomInfo = await chorus.updateRoom(info.id, settings);
  const bans: Ban[] = await chorus.bans(info.id);
  const bannedAt: number = bans[0].bannedAt;
  await chorus.unban(info.id, 'u');
  await chorus.kick(info.id, 'u', true);
  const msgs: Message[] = await chorus.roomMessages(info.id, { before: 10, limit: 5 });
  const restPage: HistoryPage = await chorus.roomMessagesPage(info.id, { after: 0 });
  const restMore: boolean = restPage.more;
  await chorus.deleteRoom(info.id);
  await chorus.connect();
  const anyReply: unknown = await chorus.request('echo', { data: 1 });

  const offs: Array<() => void> = [
    chorus.on('connection', (s) => { const x: ConnectionState = s; }),
    chorus.on('error', (e) => { const c: string = e.code; }),
    chorus.on('token_expired', ({ graceMs }) => { const g: number = graceMs; }),
    chorus.on('reconnect', ({ attempt, delay }) => { const n: number = attempt + delay; }),
    chorus.on('reconnect_attempt', ({ attempt }) => { const n: number = attempt; }),
    chorus.on('some_future_op', (raw) => { const v: unknown = raw; }),
  ];
  // @ts-expect-error a connection state is a string
  chorus.on('connection', (s: number) => {});

  const room: Room = await chorus.join(info.roomCode, { displayName: 'Ada' });
  await room.leave();
  await chorus.logout();
  await chorus.logoutAll();
  await chorus.deleteAccount('pw2');
  chorus.close();
  // @ts-expect-error user is read-only
  chorus.user = null;
  void [same, badOptions, state, token, name, rooms, session, userId, me, me2, s3, got, mine, pub, rotated, updated, bannedAt, msgs, restMore, anyReply, offs];
}

async function roomApi(room: Room): Promise<void> {
  const id: string = room.id;
  const code: string = room.code;
  const info: RoomInfo = room.info;
  const role: 'host' | 'member' = room.role;
  const parts: Map<string, Participant> = room.participants;
  const online: boolean | undefined = parts.get('u')?.online;
  const counts: number = room.participantCount + room.onlineCount;
  const complete: boolean = room.participantsComplete;
  const nextCursor: string | null = room.participantsNext;
  const pq: ParticipantQuery = { query: 'ad', online: true, limit: 20 };
  const page: ParticipantPage = await room.loadParticipants(pq);
  const page2: ParticipantPage = await page.more();
  const pnext: string | null = page2.next;
  const pfirst: Participant | undefined = page.participants[0];
  // @ts-expect-error limit is a number
  await room.loadParticipants({ limit: 'all' });
  room.on('participants_count', ({ participantCount, onlineCount }) => { const n: number = participantCount + onlineCount; });
  const st: Record<string, unknown> = room.state;
  const sv: number = room.stateVersion;
  const ents: Entities = room.entities;
  const messages: Message[] = room.messages;
  const last: number = room.lastSeq;
  const active: boolean = room.active;
  // @ts-expect-error id is read-only
  room.id = 'x';

  const m: Message = await room.send('user_text', 'hi', { k: 1 });
  const seq: number = m.seq;
  // @ts-expect-error content is a string
  const bad: number = m.content;
  await room.broadcast('entry_created', { id: 7 });
  await room.setPresence({ cursor: { x: 1 } });
  const answer: unknown = await room.rpc('agent_action', { action: 'look' });
  void answer;
  const hist: Message[] = await room.history({ before: 10, after: 0, limit: 5 });
  const hp: HistoryPage = await room.historyPage({ limit: 5 });
  const more: boolean = hp.more;
  const first: Message | undefined = hp.messages[0];
  const up: { state: object; stateVersion: number } = await room.updateState({ mode: 'focus' });
  const synced: SyncResult = await room.sync();
  const type: 'up_to_date' | 'delta' | 'full' = synced.type;
  const settled: RoomInfo = await room.updateSettings({ name: 'x' });
  const doc: Doc = await room.doc('notes');

  room.on('message', (msg) => { const c: string = msg.content; });
  const onMessage: Handler<Message> = (msg) => { const c: string = msg.content; };
  room.on('message', onMessage);
  room.on('participant_joined', (p) => { const r: 'host' | 'member' = p.role; });
  room.on('participant_left', ({ userId, reason }) => { const t: string = userId + reason; });
  room.on('participant_removed', ({ userId, reason }) => { const t: string = userId + reason; });
  room.on('presence', ({ userId, state, presence }) => { const t: object = { userId, state, presence }; });
  room.on('state', ({ state, version, currentMode }) => { const v: number = version; });
  room.on('room_deleted', ({ reason }) => { const r: string = reason; });
  room.on('kicked', ({ ban }) => { const b: boolean = ban; });
  room.on('room_code', ({ roomCode, joinLink }) => { const t: string = roomCode + joinLink; });
  room.on('room_updated', ({ name, maxParticipants, isPublic, by }) => { const t: [string, number, boolean, string] = [name, maxParticipants, isPublic, by]; });
  room.on('error', (e) => { const r: string | undefined = e.room; });
  room.on('entity_created', (ev: EntityEvent) => { const k: string = ev.entity.kind; });
  room.on('entity_updated', ({ entity, previous, transient, source }) => { const t: [Entity, Entity, boolean, EntitySource] = [entity, previous, transient, source]; });
  room.on('entity_deleted', ({ id, entity, by, stateVersion }) => { const t: [string, Entity, string | undefined, number | undefined] = [id, entity, by, stateVersion]; });
  room.on('entity_locked', ({ lock }) => { const l: EntityLock = lock; });
  room.on('entity_unlocked', ({ reason }) => { const r: string = reason; });
  room.on('synced', ({ type, stateVersion }) => { const t: SyncResult = { type, stateVersion }; });
  room.on('broadcast', ({ event, from, data }) => { const t: [string, string, unknown] = [event, from, data]; });
  room.on('entry_created', ({ from, data }) => { const f: string = from; const d: unknown = data; });
  // @ts-expect-error a message's seq is a number
  room.on('message', (msg) => { const s: string = msg.seq; });
  void [id, code, info, role, online, st, sv, ents, messages, last, active, seq, bad, hist, more, first, up, type, settled, doc];
}

async function entities(ents: Entities): Promise<void> {
  const size: number = ents.size;
  const e: Entity | undefined = ents.get('a');
  const has: boolean = ents.has('a');
  for (const [id, ent] of ents) { const t: [string, Entity] = [id, ent]; }
  for (const k of ents.keys()) { const s: string = k; }
  for (const v of ents.values()) { const n: number = v.version; }
  for (const [k, v] of ents.entries()) { const t: [string, Entity] = [k, v]; }
  ents.forEach((ent, id, all) => { const t: [Entity, string, Entities] = [ent, id, all]; });
  const created: Entity = await ents.create({ id: 'a', kind: 'entry', data: { x: 1 }, ownerOnly: true });
  // @ts-expect-error an entity needs a kind
  await ents.create({ id: 'a' });
  const upd: Entity = await ents.update('a', { x: 2 }, { baseVersion: 1 });
  const tr: Entity = await ents.update('a', null, { transient: true, ownerOnly: false });
  const delSv: number = await ents.delete('a');
  const lock: EntityLock = await ents.lock('a', 5000);
  const exp: number = lock.expiresAt;
  await ents.unlock('a', { force: true });
  const ownerOnly: true | undefined = created.ownerOnly;
  void [size, e, has, upd, tr, delSv, exp, ownerOnly];
}

function documents(doc: Doc): void {
  const id: string = doc.id;
  const text: string = doc.text;
  const version: number = doc.version;
  const state: 'synchronized' | 'awaiting_confirm' | 'awaiting_with_buffer' = doc.state;
  const cursors: Map<string, RemoteCursor> = doc.cursors;
  const sel: [number, number] | undefined = cursors.get('u')?.selection;
  const active: boolean = doc.active;
  doc.submit([5, { d: 1 }, ', world', { d: 'x' }]);
  // @ts-expect-error an op is an array of components
  doc.submit('hello');
  doc.insert(0, 'Hello');
  doc.delete(0, 1);
  void doc.setPresence({ cursor: 3, selection: [0, 2] });
  void doc.setPresence(null);
  void doc.whenSynced();
  void doc.close();
  doc.on('change', ({ op, source, author }) => { const t: [TextOp, 'local' | 'remote', string | undefined] = [op, source, author]; });
  doc.on('cursors', (c) => { const m: Map<string, RemoteCursor> = c; });
  doc.on('synced', ({ version: v }) => { const n: number = v; });
  doc.on('error', (e) => { const c: string = e.code; });
  // @ts-expect-error a Doc has no such event
  doc.on('message', () => {});
  void [id, text, version, state, sel, active];
}

function ot(): void {
  const op: TextOp = [1, 'a', { d: 2 }];
  const t: string = textType.apply('abc', op);
  const x: TextOp = textType.transform(op, [1], 'left');
  // @ts-expect-error side is 'left' or 'right'
  textType.transform(op, [1], 'middle');
  const c: TextOp = textType.compose(op, op);
  const p: number = textType.transformPosition(3, op, true);
  const n: TextOp = textType.normalize(op);
  textType.checkOp(op);
  const len: number = textType.length('👋');
  const name: string = textType.name;
  const snap: string = textType.create('x');
  const merged: unknown = mergePatch({ a: 1 }, { a: null });
  void [t, x, c, p, n, len, name, snap, merged];
}

function errors(e: unknown): void {
  if (e instanceof ChorusError) {
    const code: string = e.code;
    const status: number | undefined = e.status;
    const field: string | undefined = e.field;
    const retry: number | undefined = e.retryAfter;
    const room: string | undefined = e.room;
    const close: number | undefined = e.closeCode;
    const entity: Entity | undefined = e.entity;
    const err: Error = e;
    void [code, status, field, retry, room, close, entity, err];
  }
  const made = new ChorusError('timeout', 'no reply', { status: 504, retryAfter: 1 });
  void made;
}

async function assets(room: Room, file: Blob): Promise<void> {
  const list: Assets = room.assets;
  const all: Asset[] = await list.load();
  const page: { assets: Asset[]; next: string | null } = await list.page({ limit: 10, before: null });
  const one: Asset | undefined = list.get('id');
  const loaded: boolean = list.loaded;
  const opts: UploadOptions = { name: 'a.png', type: 'image/png', chunkSize: 1 << 20, onProgress: (sent: number, total: number) => void [sent, total] };
  const a: Asset = await room.upload(file, opts);
  const b: Asset = await room.upload(new Uint8Array(4), { signal: new AbortController().signal, dedup: false });
  const size: number = a.size;
  const url: string = await room.assetUrl(a);
  const url2: string = await list.url(b.id);
  const gone: Asset = await list.delete(a.id);
  room.on('asset_added', ({ asset }) => void asset.sha256);
  room.on('asset_removed', ({ asset }) => void asset.id);
  // @ts-expect-error upload takes bytes, not a string
  await room.upload('text');
  // @ts-expect-error an asset's size is a number
  const badSize: string = a.size;
  void [all, page, one, loaded, size, url, url2, gone, badSize];
}

void [client, roomApi, entities, documents, ot, errors, assets];
