// chorus.js: the JavaScript client SDK of Chorus, its one entry point (ES modules, no
// dependencies). The code is in src/ (README.md "Layout"); the types, chorus.d.ts, are
// generated from its JSDoc (`make sdk-types`). Wire protocol: docs/protocol.md. REST:
// docs/api.md. The web app loads this as one bundled file (web/lib/chorus.js, `make web`).

import { Chorus } from './src/client.js';

export { Chorus };
export { Assets } from './src/assets.js';
export { Call } from './src/call.js';
export { ChorusError } from './src/errors.js';
export { Doc } from './src/doc.js';
export { Entities } from './src/entities.js';
export { mergePatch } from './src/patch.js';
export { Room } from './src/room.js';
export { textType } from './src/text_type.js';
export default Chorus;

/** @typedef {import('./src/types.js').Asset} Asset */
/** @typedef {import('./src/types.js').Ban} Ban */
/** @typedef {import('./src/call.js').CallEvents} CallEvents */
/** @typedef {import('./src/call.js').CallJoinOptions} CallJoinOptions */
/** @typedef {import('./src/call.js').CallMember} CallMember */
/** @typedef {import('./src/call.js').CallTrack} CallTrack */
/** @typedef {import('./src/client.js').ChorusEvents} ChorusEvents */
/** @typedef {import('./src/types.js').ChorusOptions} ChorusOptions */
/** @typedef {import('./src/types.js').ConnectionState} ConnectionState */
/** @typedef {import('./src/doc.js').DocEvents} DocEvents */
/** @typedef {import('./src/types.js').Entity} Entity */
/** @typedef {import('./src/types.js').EntityEvent} EntityEvent */
/** @typedef {import('./src/types.js').EntityLock} EntityLock */
/** @typedef {import('./src/types.js').EntitySource} EntitySource */
/** @typedef {import('./src/types.js').HistoryPage} HistoryPage */
/**
 * An event handler, as on() takes it.
 * @template T
 * @typedef {(payload: T) => void} Handler
 */
/** @typedef {import('./src/types.js').Message} Message */
/** @typedef {import('./src/types.js').Participant} Participant */
/** @typedef {import('./src/types.js').ParticipantPage} ParticipantPage */
/** @typedef {import('./src/types.js').ParticipantQuery} ParticipantQuery */
/** @typedef {import('./src/types.js').RemoteCursor} RemoteCursor */
/** @typedef {import('./src/room.js').RoomEvents} RoomEvents */
/** @typedef {import('./src/types.js').RoomInfo} RoomInfo */
/** @typedef {import('./src/types.js').RoomSettings} RoomSettings */
/** @typedef {import('./src/types.js').RoomSummary} RoomSummary */
/** @typedef {import('./src/types.js').Session} Session */
/** @typedef {import('./src/types.js').SyncResult} SyncResult */
/** @typedef {import('./src/types.js').TextOp} TextOp */
/** @typedef {import('./src/upload.js').UploadOptions} UploadOptions */
/** @typedef {import('./src/text_type.js').TextType} TextType */
/** @typedef {import('./src/types.js').User} User */
