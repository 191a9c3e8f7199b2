export { type BytePipe, DIRECT_PROTOCOL, type SecuredDirect, secureDirect } from './direct-link.ts';
export { type OpenedSync, dialSync, syncOverStream } from './client.ts';
export { libp2pPrivateKey, peerIdOfKey, rawKeyOfPeer } from './keys.ts';
export { isLoopback, loopbackOnlyGater } from './loopback.ts';
export { type PresenceHandle, announcePresence } from './presence-client.ts';
export { PRESENCE_PROTOCOL, type PresenceMessage, type PresencePeer, decodePresence, encodePresence } from './presence.ts';
export { BLOB_STREAM_OPTIONS, SYNC_PROTOCOL, SYNC_STREAM_OPTIONS } from './protocol.ts';
export { RelayLink, type RelayLinkOptions, type RelayLinkState, type SyncEndpoint } from './relay-link.ts';
export { streamChannel } from './stream-channel.ts';
