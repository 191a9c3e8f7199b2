/** The libp2p protocol id of the sync protocol (docs/protocol.md); its version follows the HELLO version. */
export const SYNC_PROTOCOL = '/schoolmesh/sync/1';

/** Stream options for sync: one long-lived stream per peer pair. */
export const SYNC_STREAM_OPTIONS = { maxInboundStreams: 4, maxOutboundStreams: 4, runOnLimitedConnection: false } as const;
