import { paddedLength } from '@schoolmesh/crypto';
import { MemoryStorage } from '@schoolmesh/storage';
import { describe, expect, it } from 'vitest';
import { DAY, eventually, link, outliving, testSchool } from '../../../test/support/school.ts';
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

/** A relay that refuses the first uploads with the given errors, then takes them. */
class FlakyBlobs extends MemoryBlobs {
  attempts = 0;
  constructor(private readonly failures: Error[]) {
    super();
  }
  override async put(a: BlobAddress, sealed: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<void> {
    this.attempts++;
    const failure = this.failures.shift();
    if (failure) throw failure;
    return super.put(a, sealed, onProgress);
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
    // Padded (Padmé) before sealing: the relay sees 303,104 + 40 bytes, not the file's exact 300,000.
    expect(progress.at(-1)).toBe(paddedLength(image.length) + 40);
    expect(paddedLength(image.length)).toBeGreaterThan(image.length);
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

  it('refuses too-large files and lasting refusals with clear errors, and posts nothing then', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a' });
    const file = { name: 'a.pdf', mime: 'application/pdf', bytes: new Uint8Array(10) };
    teacher.useBlobTransport(new MemoryBlobs());
    const big = { ...file, bytes: new Uint8Array(MAX_ATTACHMENT_BYTES + 1) };
    const error = await teacher.postWithAttachments(group, { text: '' }, [big]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachmentError);
    expect(error).toMatchObject({ code: 'too-large' });
    // The relay's own limit is lower: a refusal that sending again will not change.
    const limited = new FlakyBlobs([Object.assign(new Error('blob too large for this relay'), { permanent: true })]);
    teacher.useBlobTransport(limited);
    await expect(teacher.postWithAttachments(group, { text: 'zu groß' }, [file])).rejects.toMatchObject({ code: 'refused' });
    expect(await teacher.messages(group)).toEqual([]);
    expect(limited.blobs.size).toBe(0);
  });

  it('writes a message with attachments offline; the files follow when the relay is there, also after a restart', async () => {
    const s = await testSchool();
    const identity = await s.device('schmidt', 'teacher');
    // The device's store outlives the engine (as IndexedDB outlives a closed tab).
    const storage = outliving(new MemoryStorage());
    let teacher = await s.engine(identity, storage);
    const group = await teacher.createGroup({ kind: 'class', name: 'Klasse 7a', members: [{ account: s.ref('ben'), role: 'member' }] });
    const bytes = new Uint8Array(5_000).map((_, i) => i % 251);
    const posted = await teacher.postWithAttachments(group, { text: 'Arbeitsblatt' }, [{ name: 'blatt.pdf', mime: 'application/pdf', bytes }]);
    const att = (await teacher.messages(group))[0]!.attachments[0]!;
    expect(teacher.isUploadPending(group, posted.bucket, att.id)).toBe(true);
    // The sender has its own copy meanwhile.
    expect(Buffer.compare(await teacher.attachment(group, posted.bucket, att), bytes)).toBe(0);
    // The device restarts before the relay is back: the outbox is kept in its store.
    await teacher.close();
    teacher = await s.engine(identity, storage);
    expect(teacher.isUploadPending(group, posted.bucket, att.id)).toBe(true);
    const uploaded: string[] = [];
    teacher.on((e) => e.type === 'uploaded' && uploaded.push(e.id));
    const relay = new MemoryBlobs();
    teacher.useBlobTransport(relay);
    await eventually(() => !teacher.isUploadPending(group, posted.bucket, att.id));
    expect(uploaded).toEqual([att.id]);
    expect(relay.blobs.size).toBe(1);
    // A reader downloads what the relay now holds.
    const reader = await s.engine(await s.device('ben', 'pupil'));
    link(teacher, reader);
    reader.useBlobTransport(relay);
    await eventually(async () => (await reader.messages(group).catch(() => [])).length === 1);
    expect(Buffer.compare(await reader.attachment(group, posted.bucket, att), bytes)).toBe(0);
    await teacher.close();
  });

  it('an upload the relay refuses for now (it does not know the new group yet) is sent again after a pause', async () => {
    const s = await testSchool();
    const teacher = await s.engine(await s.device('schmidt', 'teacher'));
    const group = await teacher.createGroup({ kind: 'club', name: 'AG Robotik' });
    const relay = new FlakyBlobs([new Error('unknown group'), new Error('unknown group')]);
    teacher.useBlobTransport(relay);
    const posted = await teacher.postWithAttachments(group, { text: 'Plan' }, [{ name: 'plan.pdf', mime: 'application/pdf', bytes: new Uint8Array([1, 2, 3]) }]);
    const att = (await teacher.messages(group))[0]!.attachments[0]!;
    expect(teacher.isUploadPending(group, posted.bucket, att.id)).toBe(true);
    await eventually(() => !teacher.isUploadPending(group, posted.bucket, att.id), 20_000);
    expect(relay.attempts).toBe(3);
    expect(relay.blobs.size).toBe(1);
    await teacher.close();
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
