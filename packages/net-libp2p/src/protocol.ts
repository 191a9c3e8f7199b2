/** The libp2p protocol id of the sync protocol (docs/protocol.md); its version follows the HELLO version. */
export const SYNC_PROTOCOL = '/schoolmesh/sync/1';

/** Stream options for sync: one long-lived stream per peer pair. */
export const SYNC_STREAM_OPTIONS = { maxInboundStreams: 4, maxOutboundStreams: 4, runOnLimitedConnection: false } as const;

/** Stream options for blob transfer: one short-lived stream per request, a few at once. */
export const BLOB_STREAM_OPTIONS = { maxInboundStreams: 8, maxOutboundStreams: 8, runOnLimitedConnection: false } as const;
