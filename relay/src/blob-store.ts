import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobRef } from '@schoolmesh/net-libp2p/blob';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const BUCKET_DIGITS = 10;

/**
 * Sealed attachment blobs on disk: `<dir>/<group>/<bucket, 10 digits>/<id>`, one file each, written to a
 * temporary file, fsynced and renamed, so a blob is either whole or absent. A bucket's directory goes with the
 * bucket's retention. Names are base64url (checked), so no path can leave the directory.
 */
export class BlobStore {
  constructor(
    readonly dir: string,
    private readonly fsync = true,
  ) {}

  private path(ref: BlobRef): string {
    if (!NAME.test(ref.group) || !NAME.test(ref.id) || !Number.isSafeInteger(ref.bucket) || ref.bucket < 0) throw new Error('bad blob reference');
    return join(this.dir, ref.group, String(ref.bucket).padStart(BUCKET_DIGITS, '0'), ref.id);
  }

  async has(ref: BlobRef): Promise<boolean> {
    return (await stat(this.path(ref)).catch(() => undefined))?.isFile() ?? false;
  }

  async read(ref: BlobRef): Promise<Uint8Array | undefined> {
    const data = await readFile(this.path(ref)).catch(() => undefined);
    return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
  }

  async write(ref: BlobRef, bytes: Uint8Array): Promise<void> {
    const target = this.path(ref);
    const tmpDir = join(this.dir, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(target, '..'), { recursive: true });
    const tmp = join(tmpDir, `${ref.id}.${randomBytes(6).toString('hex')}`);
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(bytes);
      if (this.fsync) await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, target);
  }

  /** Deletes every bucket directory older than its group's oldest live bucket (`undefined`: the group is gone). */
  async expire(oldestLive: (group: string) => number | undefined): Promise<{ buckets: number; blobs: number }> {
    let buckets = 0;
    let blobs = 0;
    for (const group of await readdir(this.dir).catch(() => [] as string[])) {
      if (!NAME.test(group)) continue;
      const oldest = oldestLive(group) ?? Number.POSITIVE_INFINITY;
      for (const b of await readdir(join(this.dir, group)).catch(() => [] as string[])) {
        if (Number(b) >= oldest) continue;
        blobs += (await readdir(join(this.dir, group, b)).catch(() => [])).length;
        await rm(join(this.dir, group, b), { recursive: true, force: true });
        buckets++;
      }
    }
    return { buckets, blobs };
  }

  /** Bytes of all blobs on disk (the /metrics gauge). */
  async bytes(): Promise<number> {
    let total = 0;
    for (const group of await readdir(this.dir).catch(() => [] as string[])) {
      for (const b of await readdir(join(this.dir, group)).catch(() => [] as string[])) {
        for (const id of await readdir(join(this.dir, group, b)).catch(() => [] as string[])) {
          total += (await stat(join(this.dir, group, b, id)).catch(() => undefined))?.size ?? 0;
        }
      }
    }
    return total;
  }
}
