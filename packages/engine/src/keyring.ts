import { type AeadKey, aeadKey } from '@schoolmesh/crypto';
import type { StorageAdapter, StorageOp } from '@schoolmesh/storage';
import { type Decoder, Encoder, decode } from '@schoolmesh/wire';

/** One epoch key held by this device, and the newest bucket known to use it. */
interface HeldKey {
  raw: Uint8Array;
  lastBucket: number;
  aead?: AeadKey;
}

const keyKey = (group: string, epoch: string) => ['key', group, epoch];
/** Marks an erased epoch, so that its sealed box in the membership log is never opened again. */
const erasedKey = (group: string, epoch: string) => ['erased', group, epoch];

/**
 * The group epoch keys this device holds, by the 8-byte epoch id entries carry. Retention erases a key once no
 * live bucket needs it (docs/threat-model.md, "Expired data"): after that, a kept copy of old ciphertext is
 * unreadable here too.
 */
export class KeyRing {
  private readonly keys = new Map<string, Map<string, HeldKey>>();
  private readonly erased = new Set<string>();
  private dirty: StorageOp[] = [];

  private constructor(private readonly storage: StorageAdapter) {}

  static async open(storage: StorageAdapter): Promise<KeyRing> {
    const ring = new KeyRing(storage);
    for (const r of await storage.loadRange(['key'])) {
      const [, group, epoch] = r.key as [string, string, string];
      const held = decode(r.data, (d: Decoder) => ({ raw: d.fixed(32).slice(), lastBucket: d.varuint() }));
      ring.groupKeys(group).set(epoch, held);
    }
    for (const r of await storage.keys(['erased'])) ring.erased.add(`${r[1]}/${r[2]}`);
    return ring;
  }

  private groupKeys(group: string): Map<string, HeldKey> {
    let m = this.keys.get(group);
    if (!m) {
      m = new Map();
      this.keys.set(group, m);
    }
    return m;
  }

  /** Was this epoch's key erased by retention? Then it must never be opened again. */
  wasErased(group: string, epoch: string): boolean {
    return this.erased.has(`${group}/${epoch}`);
  }

  has(group: string, epoch: string): boolean {
    return this.keys.get(group)?.has(epoch) ?? false;
  }

  epochs(group: string): string[] {
    return [...(this.keys.get(group)?.keys() ?? [])];
  }

  raw(group: string, epoch: string): Uint8Array | undefined {
    return this.keys.get(group)?.get(epoch)?.raw;
  }

  async add(group: string, epoch: string, raw: Uint8Array, bucket: number): Promise<void> {
    if (this.has(group, epoch) || this.wasErased(group, epoch)) return;
    const held: HeldKey = { raw, lastBucket: bucket };
    this.groupKeys(group).set(epoch, held);
    await this.storage.save(keyKey(group, epoch), encodeHeld(held));
  }

  async aead(group: string, epoch: string): Promise<AeadKey | undefined> {
    const held = this.keys.get(group)?.get(epoch);
    if (!held) return undefined;
    held.aead ??= await aeadKey(held.raw);
    return held.aead;
  }

  /** Remembers that `bucket` holds entries under `epoch`, so the key lives as long as that bucket. */
  noteUse(group: string, epoch: string, bucket: number): void {
    const held = this.keys.get(group)?.get(epoch);
    if (!held || held.lastBucket >= bucket) return;
    held.lastBucket = bucket;
    this.dirty.push({ type: 'put', key: keyKey(group, epoch), data: encodeHeld(held) });
  }

  async flush(): Promise<void> {
    if (this.dirty.length === 0) return;
    const ops = this.dirty;
    this.dirty = [];
    await this.storage.batch(ops);
  }

  /** Erases every key of `group` except `keep` whose last bucket is older than `oldestLive`. */
  async erase(group: string, oldestLive: number, keep: string | undefined): Promise<string[]> {
    const keys = this.keys.get(group);
    if (!keys) return [];
    const erased: string[] = [];
    for (const [epoch, held] of keys) {
      if (epoch === keep || held.lastBucket >= oldestLive) continue;
      held.raw.fill(0);
      keys.delete(epoch);
      erased.push(epoch);
    }
    await this.flush();
    if (erased.length > 0) {
      for (const epoch of erased) this.erased.add(`${group}/${epoch}`);
      await this.storage.batch(
        erased.flatMap((epoch): StorageOp[] => [
          { type: 'del', key: keyKey(group, epoch) },
          { type: 'put', key: erasedKey(group, epoch), data: new Uint8Array(0) },
        ]),
      );
    }
    return erased;
  }

  /** Forgets every key of a group (the device left it, or the group is gone). */
  async dropGroup(group: string): Promise<void> {
    for (const held of this.keys.get(group)?.values() ?? []) held.raw.fill(0);
    this.keys.delete(group);
    await this.storage.removeRange(['key', group]);
  }
}

function encodeHeld(h: HeldKey): Uint8Array {
  return new Encoder(40).fixed(h.raw, 32).varuint(h.lastBucket).finish();
}
