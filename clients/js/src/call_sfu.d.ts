/** The pseudo-member the SFU's signals come from and go to. */
export declare const SFU = "sfu";
/** The connections of a call in SFU mode (Call makes it; not for apps). */
export declare class SfuSession {
    call: any;
    config: any;
    pub: RTCPeerConnection | null;
    senders: Map<any, any>;
    subs: Map<any, any>;
    negotiating: boolean;
    again: boolean;
    constructor(call: any, config: any);
    /** Starts sending the streams (camera/microphone, screen) that exist. */
    start(streams: any): void;
    send(data: any): void;
    /** The sending connection, made at the first track. */
    pubPc(): RTCPeerConnection;
    /** One offer at a time: Janus answers each configure in turn. */
    offer(): Promise<void>;
    addStream(stream: any): void;
    removeStream(stream: any): void;
    onSignal(d: any): Promise<void>;
    /** The SFU offers member id's media: answer on a receiving connection of its own. */
    subscribe(id: any, sdp: any): Promise<void>;
    onTrack(id: any, s: any, track: any, stream: any): void;
    /** Member id's media ended (or they left): its receiving connection closes. */
    drop(id: any): void;
    /** The connection that carries member id's media to us ('pub' for ours). */
    peerConnection(id: any): any;
    close(): void;
}
