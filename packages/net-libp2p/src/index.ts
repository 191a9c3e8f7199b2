export * from './blob/index.ts';
export { dialSync, type OpenedSync, syncOverStream } from './client.ts';
export { libp2pPrivateKey, peerIdOfKey, rawKeyOfPeer } from './keys.ts';
export { isLoopback, loopbackOnlyGater } from './loopback.ts';
export { BLOB_STREAM_OPTIONS, SYNC_PROTOCOL, SYNC_STREAM_OPTIONS } from './protocol.ts';
export { RelayLink, type RelayLinkOptions, type RelayLinkState, type SyncEndpoint } from './relay-link.ts';
export { streamChannel } from './stream-channel.ts';
