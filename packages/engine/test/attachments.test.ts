import { describe, expect, it } from 'vitest';
import { DAY, eventually, link, testSchool } from '../../../test/support/school.ts';
import { AttachmentError, type BlobAddress, type BlobTransport, MAX_ATTACHMENT_BYTES } from '../src/index.ts';

/** The blob seam's in-memory implementation (a relay's store without the network): keeps what it is given. */
class MemoryBlobs implements BlobTransport {
  readonly blobs = new Map<string, Uint8Array>();
  private k(a: BlobAddress): string {
    return `${a.group}/${a.bucket}/${a.id}`;
  }
  async put(a: BlobAddress, sealed: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<void> {
    this.blobs.set(this.k(a), sealed.slice());
    onProgress?.(sealed.length, sealed.length);
  }
  async get(a: BlobAddress, maxBytes: number): Promise<Uint8Array> {
    const b = this.blobs.get(this.k(a));
    if (!b) throw new Error('no such blob');
    if (b.length > maxBytes) throw new Error('too large');
    return b.slice();
  }
}

describe('engine: attachments', () => {
  it('a pupil sends an image; the teacher gets the same bytes, verified; tampering and wrong sizes are caught', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const pupil = await s.engine(await s.device('ben', 'pupil'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    link(teacher, pupil);
    await teacher.post(group, { text: 'Hallo' });
    await eventually(async () => (await pupil.messages(group).catch(() => [])).length > 0);
    const relay = new MemoryBlobs();
    pupil.useBlobTransport(relay);
    teacher.useBlobTransport(relay);
    const image = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
    const progress: number[] = [];
    const posted = await pupil.postWithAttachments(group, { text: 'Mein Bild' }, [{ name: 'tafel.jpg', mime: 'image/jpeg', bytes: image }], (d) => progress.push(d));
    expect(progress.at(-1)).toBe(image.length + 40);
    // The relay holds sealed bytes only: not the plaintext.
    const [stored] = [...relay.blobs.values()];
    expect(Buffer.from(stored!).indexOf(Buffer.from(image.subarray(1000, 1064)))).toBe(-1);
    await eventually(async () => (await teacher.messages(group)).some((m) => m.text === 'Mein Bild'));
    const message = (await teacher.messages(group)).find((m) => m.text === 'Mein Bild')!;
    expect(message.attachments).toHaveLength(1);
    const att = message.attachments[0]!;
    expect(att).toMatchObject({ name: 'tafel.jpg', mime: 'image/jpeg', size: image.length });
    // A relay that flips a byte is caught, and so is a forged reference (another plaintext hash).
    const key = [...relay.blobs.keys()][0]!;
    const flipped = stored!.slice();
    flipped[500]! ^= 1;
    relay.blobs.set(key, flipped);
    await expect(teacher.attachment(group, posted.bucket, att)).rejects.toMatchObject({ code: 'corrupt' });
    relay.blobs.set(key, stored!);
    await expect(teacher.attachment(group, posted.bucket, { ...att, sha256: '0'.repeat(64) })).rejects.toMatchObject({ code: 'corrupt' });
    expect(Buffer.compare(await teacher.attachment(group, posted.bucket, att), image)).toBe(0);
    // Once downloaded, the teacher's device has its own copy.
    teacher.useBlobTransport(undefined);
    expect(Buffer.compare(await teacher.attachment(group, posted.bucket, att), image)).toBe(0);
  });

  it('refuses too-large files, and offline sending, with clear errors', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a' });
    const file = { name: 'a.pdf', mime: 'application/pdf', bytes: new Uint8Array(10) };
    await expect(teacher.postWithAttachments(group, { text: '' }, [file])).rejects.toMatchObject({ code: 'offline' });
    teacher.useBlobTransport(new MemoryBlobs());
    const big = { ...file, bytes: new Uint8Array(MAX_ATTACHMENT_BYTES + 1) };
    const error = await teacher.postWithAttachments(group, { text: '' }, [big]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachmentError);
    expect(error).toMatchObject({ code: 'too-large' });
    expect(await teacher.messages(group)).toEqual([]);
  });

  it('retention removes the local copy of a blob with its bucket', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a' });
    const relay = new MemoryBlobs();
    teacher.useBlobTransport(relay);
    const posted = await teacher.postWithAttachments(group, { text: 'Plan' }, [{ name: 'plan.pdf', mime: 'application/pdf', bytes: new Uint8Array([1, 2, 3]) }]);
    const att = (await teacher.messages(group))[0]!.attachments[0]!;
    teacher.useBlobTransport(undefined);
    expect(await teacher.attachment(group, posted.bucket, att)).toEqual(new Uint8Array([1, 2, 3]));
    s.clock.advance(20 * DAY);
    await teacher.expire();
    await expect(teacher.attachment(group, posted.bucket, att)).rejects.toMatchObject({ code: 'offline' });
  });
});
