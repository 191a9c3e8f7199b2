import type { Entry, Manifest, VersionVector } from '@schoolmesh/entries';
import type { CredentialKind } from './messages.ts';

/** Who is on the other end of a session, as proven by the handshake. */
export interface PeerInfo {
  kind: 'device' | 'relay';
  /** Device id (base64url Ed25519 key) or, for a relay, its authority key. */
  id: string;
  school: string;
  /** For devices: `account@school`. */
  account?: string;
}

/** What this node proves itself with: a certificate and the key it certifies. */
export interface LocalCredential {
  kind: CredentialKind;
  bytes: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Turns a peer's credential into a PeerInfo and the public key its AUTH signature must verify under. */
export interface PeerVerifier {
  verify(kind: CredentialKind, credential: Uint8Array): Promise<{ peer: PeerInfo; publicKey: Uint8Array }>;
}

export interface GroupOffer {
  group: string;
  heads: string[];
}

export interface ApplyResult {
  accepted: Entry[];
  rejected: number;
  reason: string;
}

/**
 * What a sync session needs from the local replica. Devices and relays implement it over the same store;
 * the session itself knows no policy: every "may" question is the replica's.
 */
export interface SyncReplica {
  groupsFor(peer: PeerInfo): Promise<GroupOffer[]>;
  knowsGroup(group: string): boolean;
  /** May the peer see the group's membership log? (A member account's new device must, to join it.) */
  mayKnow(peer: PeerInfo, group: string): boolean;
  /** May the peer receive the group's entries? */
  mayRead(peer: PeerInfo, group: string): boolean;
  membershipFor(group: string, theirHeads: readonly string[]): Uint8Array[];
  /**
   * For a peer that offers a group it may no longer know: the op that removed it and the ops that op depends on,
   * less what the peer holds, so it learns of its removal and of nothing later. Empty if it was not removed.
   */
  removalFor(peer: PeerInfo, group: string, theirHeads: readonly string[]): Uint8Array[];
  /** This replica's membership heads of a group (what its next op would name as parents). */
  heads(group: string): string[];
  /** `missing`: some ops wait for parents this replica lacks; `fresh`: the ops it did not hold before. */
  applyMembership(
    group: string,
    ops: readonly Uint8Array[],
    peer: PeerInfo,
  ): Promise<{ applied: number; rejected: number; missing: boolean; fresh: Uint8Array[] }>;
  summary(group: string): Promise<{ bucket: number; digest: string }[]>;
  vector(group: string, bucket: number): Promise<VersionVector>;
  entriesFor(group: string, bucket: number, theirs: VersionVector): Promise<Entry[]>;
  applyEntries(entries: readonly Entry[], peer: PeerInfo): Promise<ApplyResult>;
  /**
   * Verifies and keeps an author's signed manifest (MANIFEST); `accepted` false with the reason when refused. The
   * session does not wait for it: `applyEntries` called after it must wait until it is decided.
   */
  applyManifest(manifest: Manifest, peer: PeerInfo): Promise<{ accepted: boolean; reason: string }>;
  /**
   * The manifests that vouch for the packed entries among `entries` that carry no signature of their own: the
   * session sends them ahead of the entries (a receiver refuses such an entry without them).
   */
  manifestsFor(entries: readonly Entry[]): Manifest[];
}
