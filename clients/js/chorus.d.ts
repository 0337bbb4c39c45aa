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
export type Asset = import('./src/types.js').Asset;
export type Ban = import('./src/types.js').Ban;
export type CallEvents = import('./src/call.js').CallEvents;
export type CallJoinOptions = import('./src/call.js').CallJoinOptions;
export type CallMember = import('./src/call.js').CallMember;
export type CallTrack = import('./src/call.js').CallTrack;
export type ChorusEvents = import('./src/client.js').ChorusEvents;
export type ChorusOptions = import('./src/types.js').ChorusOptions;
export type ConnectionState = import('./src/types.js').ConnectionState;
export type DocEvents = import('./src/doc.js').DocEvents;
export type Entity = import('./src/types.js').Entity;
export type EntityEvent = import('./src/types.js').EntityEvent;
export type EntityLock = import('./src/types.js').EntityLock;
export type EntitySource = import('./src/types.js').EntitySource;
export type HistoryPage = import('./src/types.js').HistoryPage;
export type Handler<T> = (payload: T) => void;
export type Message = import('./src/types.js').Message;
export type Participant = import('./src/types.js').Participant;
export type ParticipantPage = import('./src/types.js').ParticipantPage;
export type ParticipantQuery = import('./src/types.js').ParticipantQuery;
export type RemoteCursor = import('./src/types.js').RemoteCursor;
export type RoomEvents = import('./src/room.js').RoomEvents;
export type RoomInfo = import('./src/types.js').RoomInfo;
export type RoomSettings = import('./src/types.js').RoomSettings;
export type RoomSummary = import('./src/types.js').RoomSummary;
export type Session = import('./src/types.js').Session;
export type SyncResult = import('./src/types.js').SyncResult;
export type TextOp = import('./src/types.js').TextOp;
export type UploadOptions = import('./src/upload.js').UploadOptions;
export type TextType = import('./src/text_type.js').TextType;
export type User = import('./src/types.js').User;
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
