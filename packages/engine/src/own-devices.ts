import { type DeviceCertificate, decodeDeviceCertificate, deviceIdOf } from '@schoolmesh/identity';
import type { StorageAdapter } from '@schoolmesh/storage';

const ownKey = (device: string) => ['own-device', device];

/**
 * The other devices of this account that this device vouches for: the ones it approved (`Engine.approveDevice`) and
 * the one that approved it. Kept, with their certificates, so that the engine lists them in every group it joins
 * later too (a class created next week), not only in the groups it was in at the moment of approval. Never a
 * device the school alone certified: that is the point of approval (docs/threat-model.md).
 */
export class OwnDevices {
  private readonly certs = new Map<string, DeviceCertificate>();

  private constructor(private readonly storage: StorageAdapter) {}

  static async open(storage: StorageAdapter): Promise<OwnDevices> {
    const own = new OwnDevices(storage);
    for (const r of await storage.loadRange(['own-device'])) {
      try {
        const cert = decodeDeviceCertificate(r.data);
        own.certs.set(deviceIdOf(cert.deviceKey), cert);
      } catch {
        // An unreadable record vouches for nothing.
      }
    }
    return own;
  }

  has(device: string): boolean {
    return this.certs.has(device);
  }

  /** Remembers a device (a newer certificate of one already known replaces the older). */
  async add(cert: DeviceCertificate): Promise<void> {
    const id = deviceIdOf(cert.deviceKey);
    const known = this.certs.get(id);
    if (known && known.notAfter >= cert.notAfter) return;
    this.certs.set(id, cert);
    await this.storage.save(ownKey(id), cert.bytes);
  }

  list(): DeviceCertificate[] {
    return [...this.certs.values()];
  }
}
