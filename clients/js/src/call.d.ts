import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
import { SfuSession } from './call_sfu.js';
/** The server ops that are call events (routed to room.call). */
export declare const CALL_EVENTS: Set<string>;
export type CallMember = {
    id: string;
    userId: string;
    audio: boolean;
    video: boolean;
    screen: boolean;
    muted: boolean;
    speaking: boolean;
    sharing: boolean;
    joinedAt: number;
};
export type CallTrack = {
    member: CallMember;
    track: MediaStreamTrack;
    stream: MediaStream;
    kind: 'audio' | 'video' | 'screen';
};
export type CallEvents = {
    'member-joined': CallMember;
    'member-left': {
        member: CallMember;
        reason: string;
    };
    'member-updated': CallMember;
    'track-added': CallTrack;
    'track-removed': CallTrack;
    joined: {
        id: string;
        mode: string;
    };
    left: {
        reason: string;
    };
    error: ChorusError;
};
export type CallJoinOptions = {
    audio?: boolean;
    video?: boolean | MediaTrackConstraints;
    screen?: boolean;
    muted?: boolean;
    stream?: MediaStream;
    screenStream?: MediaStream;
    rtcConfig?: RTCConfiguration;
};
/**
 * A call member as the server describes it.
 * @typedef {{ id: string; userId: string; audio: boolean; video: boolean; screen: boolean;
 *   muted: boolean; speaking: boolean; sharing: boolean; joinedAt: number }} CallMember
 */
/**
 * A remote track: `kind` is 'audio', 'video' or 'screen' (a shared screen's video).
 * @typedef {{ member: CallMember; track: MediaStreamTrack; stream: MediaStream;
 *   kind: 'audio' | 'video' | 'screen' }} CallTrack
 */
/**
 * The events of a Call: member-joined, member-left, member-updated, track-added,
 * track-removed, joined (this connection is in the call), left (it is not any more:
 * reason left, reconnecting, room_left or the server's), error.
 * @typedef {{ 'member-joined': CallMember, 'member-left': { member: CallMember, reason: string }, 'member-updated': CallMember, 'track-added': CallTrack, 'track-removed': CallTrack, joined: { id: string, mode: string }, left: { reason: string }, error: ChorusError }} CallEvents
 */
/**
 * What join() takes. `stream`: the camera/microphone stream to send instead of asking
 * getUserMedia; `screenStream`: a stream to share instead of asking getDisplayMedia (a
 * canvas's captureStream(), say); `rtcConfig`: more RTCConfiguration (iceTransportPolicy).
 * @typedef {{ audio?: boolean; video?: boolean | MediaTrackConstraints; screen?: boolean;
 *   muted?: boolean; stream?: MediaStream; screenStream?: MediaStream;
 *   rtcConfig?: RTCConfiguration }} CallJoinOptions
 */
/**
 * A room's call. Events: CallEvents. One per Room (room.call).
 * @extends {Emitter<CallEvents>}
 */
export declare class Call extends Emitter<CallEvents> {
    _sfu: SfuSession | null;
    /** This connection's call member id, or null when not in the call. @returns {string | null} */
    get id(): string | null;
    /** 'mesh' or 'sfu' while in the call, else null. @returns {string | null} */
    get mode(): string | null;
    /** @returns {boolean} */
    get joined(): boolean;
    /** The other call members by call member id. @returns {Map<string, CallMember>} */
    get members(): Map<string, CallMember>;
    /** The camera/microphone stream sent, or null. @returns {MediaStream | null} */
    get localStream(): MediaStream | null;
    /** The screen stream shared, or null. @returns {MediaStream | null} */
    get screenStream(): MediaStream | null;
    /** @returns {boolean} */
    get muted(): boolean;
    /**
     * Joins the room's call, sending audio, video and/or a screen as asked, and connects to
     * every member already in it. Resolves with this connection's call member id.
     * @param {CallJoinOptions} [opts]
     * @returns {Promise<string>}
     */
    join(opts?: CallJoinOptions): Promise<string>;
    /**
     * Leaves the call: every peer connection closes, local tracks stop (those the SDK
     * asked for; a given stream is left alone).
     * @returns {Promise<void>}
     */
    leave(): Promise<void>;
    /**
     * Mutes or unmutes the microphone (the audio tracks' `enabled`) and tells the room.
     * @param {boolean} muted
     * @returns {Promise<void>}
     */
    setMuted(muted: boolean): Promise<void>;
    /**
     * Tells the room whether this member is speaking (an app's voice activity detection).
     * @param {boolean} speaking
     * @returns {Promise<void>}
     */
    setSpeaking(speaking: boolean): Promise<void>;
    /**
     * Shares a screen: `stream`, or one getDisplayMedia asks for. Every peer gets its
     * video track; the room sees `sharing`.
     * @param {MediaStream} [stream]
     * @returns {Promise<MediaStream>}
     */
    shareScreen(stream?: MediaStream): Promise<MediaStream>;
    /** Stops sharing the screen. @returns {Promise<void>} */
    stopScreen(): Promise<void>;
    /**
     * The peer connection that carries member id's media (mesh: the one to that member; SFU
     * mode: the one the SFU sends it on, or 'pub' for the one we send on), for getStats.
     * @param {string} id @returns {RTCPeerConnection | undefined}
     */
    peerConnection(id: string): RTCPeerConnection | undefined;
}
