import { DecodeError, Decoder, Encoder, decodeTotal } from '@schoolmesh/wire';

/**
 * The presence protocol (docs/protocol.md, "Presence"): a device tells its relay the libp2p peer id under which its
 * browser takes direct (WebRTC) connections, and the relay answers with the devices that share a group with it and
 * are online the same way, again whenever that set changes. One stream per device, frames as in sync.
 */
export const PRESENCE_PROTOCOL = '/schoolmesh/presence/1';

export const PresenceType = { Announce: 1, Peers: 2, Error: 3 } as const;

/** A peer id in its string form is at most ~60 characters; anything longer is refused. */
const MAX_LINK_CHARS = 128;
const MAX_PEERS = 10_000;

export interface PresencePeer {
  /** The device id (its key, base64url). */
  device: string;
  /** The libp2p peer id of that device's direct-link node. */
  link: string;
}

export type PresenceMessage =
  | { type: 'announce'; link: string }
  | { type: 'peers'; peers: PresencePeer[] }
  | { type: 'error'; message: string };

export function encodePresence(m: PresenceMessage): Uint8Array {
  const enc = new Encoder(64);
  if (m.type === 'announce') enc.varuint(PresenceType.Announce).string(m.link);
  else if (m.type === 'peers') enc.varuint(PresenceType.Peers).list(m.peers, (e, p) => e.string(p.device).string(p.link));
  else enc.varuint(PresenceType.Error).string(m.message);
  return enc.finish();
}

/** Total: bad bytes give a DecodeError, never anything else. */
export function decodePresence(bytes: Uint8Array): PresenceMessage {
  return decodeTotal(() => {
    const dec = new Decoder(bytes, { maxFieldBytes: 4096, maxListItems: MAX_PEERS });
    const type = dec.tag([PresenceType.Announce, PresenceType.Peers, PresenceType.Error], 'presence message');
    let m: PresenceMessage;
    if (type === PresenceType.Announce) {
      const link = dec.string(MAX_LINK_CHARS);
      if (link.length === 0) throw new DecodeError('bad-value', 'empty link peer id');
      m = { type: 'announce', link };
    } else if (type === PresenceType.Peers) {
      m = { type: 'peers', peers: dec.list((d) => ({ device: d.string(128), link: d.string(MAX_LINK_CHARS) })) };
    } else {
      m = { type: 'error', message: dec.string(1024) };
    }
    dec.end();
    return m;
  });
}
