import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { describe, expect, it, vi } from 'vitest';
import {
  BucketDoc,
  LIMITS,
  checkMessageValue,
  ContentError,
  authorPrefix,
  clientIdFor,
  docNameFor,
  mergeOwnUpdates,
  parseAuthorPrefix,
  parseKey,
  validateUpdate,
} from '../src/index.ts';
import { BUCKET, GROUP, type Logged, T0, capture, deliver, replica } from './helpers.ts';

const sha = 'ab'.repeat(32);
const attachment = { id: 'blob-1', name: 'homework.pdf', mime: 'application/pdf', size: 1234, sha256: sha };

describe('client ids', () => {
  it('are the first 53 bits of SHA-256(deviceId NUL docName)', () => {
    const name = docNameFor(GROUP, BUCKET);
    expect(name).toBe(`${GROUP}/${BUCKET}`);
    const h = createHash('sha256').update(`dev-a\u0000${name}`).digest();
    const expected = Number(h.readBigUInt64BE(0) >> 11n);
    expect(clientIdFor('dev-a', name)).toBe(expected);
    expect(Number.isSafeInteger(expected)).toBe(true);
  });

  it('differ per device and per document and round-trip through the prefix', () => {
    const ids = new Set([
      clientIdFor('dev-a', 'g/1'),
      clientIdFor('dev-b', 'g/1'),
      clientIdFor('dev-a', 'g/2'),
      clientIdFor('dev-a\u0000g', '1'),
    ]);
    expect(ids.size).toBe(4);
    for (const id of ids) {
      expect(id).toBeGreaterThan(0);
      expect(parseAuthorPrefix(authorPrefix(id))).toBe(id);
    }
    expect(parseAuthorPrefix('0abc')).toBeNull();
    expect(parseAuthorPrefix('zzzzzzzzzzz')).toBeNull(); // beyond 2^53
    expect(() => authorPrefix(0)).toThrow();
  });

  it('is the Yjs clientID of the bucket document', () => {
    const doc = new BucketDoc(GROUP, BUCKET, 'dev-a');
    expect(doc.doc.clientID).toBe(clientIdFor('dev-a', docNameFor(GROUP, BUCKET)));
    expect(doc.prefix).toBe(doc.clientId.toString(36));
  });
});

describe('keys', () => {
  it('parses the three kinds and nothing else', () => {
    const p = authorPrefix(12345);
    expect(parseKey(`${p}/m/1a`)).toEqual({ kind: 'message', author: 12345, localId: '1a' });
    expect(parseKey(`${p}/x/${p}/m/1a`)).toEqual({ kind: 'reaction', author: 12345, target: `${p}/m/1a` });
    expect(parseKey(`${p}/x/7:${p}/m/1a`)).toEqual({ kind: 'reaction', author: 12345, target: `${p}/m/1a`, bucket: 7 });
    expect(parseKey(`${p}/read`)).toEqual({ kind: 'read', author: 12345 });
    for (const bad of [`${p}/q`, `${p}/m/`, `${p}/m/A`, `${p}/x/${p}`, `${p}/x/07:${p}/m/1`, `0${p}/read`, 'm', ''])
      expect(parseKey(bad)).toBeNull();
  });
});

describe('BucketDoc operations', () => {
  it('posts messages and lists them by ts, then key', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const b = replica('dev-b', log);
    const k1 = a.post({ text: 'second' }, T0 + 20);
    const k2 = b.post({ text: 'first' }, T0 + 10);
    const k3 = a.post({ text: 'tie a' }, T0 + 30);
    const k4 = b.post({ text: 'tie b' }, T0 + 30);
    deliver(a, log.filter((l) => l.device === 'dev-b'));
    deliver(b, log.filter((l) => l.device === 'dev-a'));
    const tied = [k3, k4].sort();
    expect(a.messages().map((m) => m.key)).toEqual([k2, k1, ...tied]);
    expect(b.messages()).toEqual(a.messages());
    const m = a.messages()[0]!;
    expect(m).toEqual({
      key: k2,
      bucket: BUCKET,
      authorClientId: b.clientId,
      text: 'first',
      ts: T0 + 10,
      attachments: [],
      deleted: false,
      reactions: {},
      readBy: [],
    });
    expect(k1.startsWith(`${a.prefix}/m/`)).toBe(true);
    expect(a.messages(new Map([[b.clientId, 'dev-b']]))[0]!.author).toBe('dev-b');
  });

  it('keeps replies and attachments', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const k1 = a.post({ text: 'see attachment', attachments: [attachment] }, T0);
    const k2 = a.post({ text: 're', replyTo: k1 }, T0 + 1);
    const k3 = a.post({ text: 'old', replyTo: { bucket: BUCKET - 1, key: k1 } }, T0 + 2);
    const b = replica('dev-b', log);
    deliver(b, log);
    const [m1, m2, m3] = b.messages();
    expect(m1!.attachments).toEqual([attachment]);
    expect(m2!.replyTo).toEqual({ bucket: BUCKET, key: k1 });
    expect(m3!.replyTo).toEqual({ bucket: BUCKET - 1, key: k1 });
    expect(m3!.key).toBe(k3);
    expect(k2).not.toBe(k1);
  });

  it('rejects invalid local input without writing', () => {
    const a = new BucketDoc(GROUP, BUCKET, 'dev-a');
    const updates = capture(a, () => {
      expect(() => a.post({ text: '' }, T0)).toThrow(ContentError);
      expect(() => a.post({ text: 'x'.repeat(10_001) }, T0)).toThrow(ContentError);
      expect(() => a.post({ text: 'x', attachments: [{ ...attachment, sha256: 'nothex' }] }, T0)).toThrow(ContentError);
      expect(() => a.post({ text: 'x', replyTo: 'not a key' }, T0)).toThrow(ContentError);
      expect(() => a.post({ text: 'x' }, -1)).toThrow(ContentError);
    });
    expect(updates).toEqual([]);
    expect(a.post({ text: 'x'.repeat(10_000) }, T0)).toMatch(/\/m\//);
    expect(a.post({ text: '', attachments: [attachment] }, T0)).toMatch(/\/m\//);
  });

  it('edits own messages only', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const b = replica('dev-b', log);
    const key = a.post({ text: 'helo', attachments: [attachment] }, T0);
    deliver(b, log);
    const [editUpdate] = capture(a, () => a.edit(key, 'hello', T0 + 5));
    expect(validateUpdate(editUpdate!, a.clientId)).toEqual({ ok: true });
    expect(validateUpdate(editUpdate!, a.clientId, b.doc)).toEqual({ ok: true });
    b.applyRemote(editUpdate!, 'dev-a');
    const m = b.messages()[0]!;
    expect(m).toMatchObject({ text: 'hello', editedAt: T0 + 5, ts: T0, attachments: [attachment] });
    expect(() => b.edit(key, 'hijack', T0 + 6)).toThrow(ContentError);
    expect(() => b.deleteForEveryone(key, T0 + 6)).toThrow(ContentError);
    expect(() => a.edit(`${a.prefix}/m/zz`, 'x', T0)).toThrow(ContentError);
    expect(() => a.edit(key, 'x'.repeat(10_001), T0)).toThrow(ContentError);
    const plain = a.post({ text: 'plain' }, T0);
    expect(() => a.edit(plain, '', T0)).toThrow(ContentError);
    a.edit(key, '', T0 + 7); // the attachment remains, so an empty text is fine
  });

  it('deletes for everyone: text, attachments, reply and reactions go', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const b = replica('dev-b', log);
    const first = a.post({ text: 'first' }, T0);
    const key = a.post({ text: 'oops', attachments: [attachment], replyTo: first }, T0 + 1);
    deliver(b, log.splice(0));
    b.react(key, '👍');
    deliver(a, log.splice(0));
    a.deleteForEveryone(key, T0 + 9);
    deliver(b, log.splice(0));
    const m = b.messages()[1]!;
    expect(m).toEqual({
      key,
      bucket: BUCKET,
      authorClientId: a.clientId,
      text: '',
      ts: T0 + 1,
      attachments: [],
      editedAt: T0 + 9,
      deleted: true,
      reactions: {},
      readBy: [],
    });
    expect(() => a.edit(key, 'back', T0 + 10)).toThrow(ContentError);
    expect(() => b.react(key, '❤️')).toThrow(ContentError);
    expect(capture(a, () => a.deleteForEveryone(key, T0 + 11))).toEqual([]);
  });

  it('reacts, changes and removes reactions; cross-bucket reactions are listed apart', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const b = replica('dev-b', log);
    const c = replica('dev-c', log);
    const key = a.post({ text: 'vote' }, T0);
    deliver(b, log);
    deliver(c, log);
    log.length = 0;
    b.react(key, '👍');
    c.react(key, '👍');
    a.react(key, '😂');
    for (const r of [a, b, c]) deliver(r, log);
    const expected = { '👍': [b.clientId, c.clientId].sort((x, y) => x - y), '😂': [a.clientId] };
    expect(a.messages()[0]!.reactions).toEqual(expected);
    expect(c.messages()).toEqual(a.messages());
    log.length = 0;
    b.react(key, '❤️');
    c.react(key, null);
    expect(capture(c, () => c.react(key, null))).toEqual([]);
    for (const r of [a, b, c]) deliver(r, log);
    expect(a.messages()[0]!.reactions).toEqual({ '❤️': [b.clientId], '😂': [a.clientId] });
    expect(() => a.react(key, 'lol')).toThrow(ContentError);
    expect(() => a.react(`${a.prefix}/m/zz`, '👍')).toThrow(ContentError);
    a.react({ bucket: BUCKET - 3, key: `${b.prefix}/m/5` }, '🎉');
    a.react({ bucket: BUCKET, key }, '😂'); // same bucket: the plain key, unchanged
    expect(a.foreignReactions()).toEqual([
      { target: { bucket: BUCKET - 3, key: `${b.prefix}/m/5` }, emoji: '🎉', authorClientId: a.clientId },
    ]);
    expect(a.messages()[0]!.reactions['😂']).toEqual([a.clientId]);
  });

  it('tracks read markers, which only move forward', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const b = replica('dev-b', log);
    const k1 = a.post({ text: '1' }, T0 + 1);
    const k2 = a.post({ text: '2' }, T0 + 2);
    const k3 = a.post({ text: '3' }, T0 + 3);
    deliver(b, log.splice(0));
    expect(b.markRead(k2, T0 + 10)).toBe(true);
    expect(b.markRead(k1, T0 + 11)).toBe(false);
    expect(b.markRead(k2, T0 + 11)).toBe(false);
    deliver(a, log.splice(0));
    expect(a.messages().map((m) => m.readBy)).toEqual([[b.clientId], [b.clientId], []]);
    expect(a.readMarkers()).toEqual([{ clientId: b.clientId, key: k2, ts: T0 + 10 }]);
    expect(b.markRead(k3, T0 + 12)).toBe(true);
    deliver(a, log.splice(0));
    expect(a.messages().every((m) => m.readBy.includes(b.clientId))).toBe(true);
    expect(() => b.markRead(`${a.prefix}/m/zz`, T0)).toThrow(ContentError);
  });

  it('emits local updates only, and stops after unsubscribing', () => {
    const a = new BucketDoc(GROUP, BUCKET, 'dev-a');
    const b = new BucketDoc(GROUP, BUCKET, 'dev-b');
    const fromB = capture(b, () => b.post({ text: 'hi' }, T0));
    const seen: Uint8Array[] = [];
    const off = a.onLocalUpdate((u) => seen.push(u));
    a.applyRemote(fromB[0]!, 'dev-b');
    expect(seen).toEqual([]);
    a.post({ text: 'mine' }, T0);
    expect(seen.length).toBe(1);
    off();
    a.post({ text: 'unseen' }, T0);
    expect(seen.length).toBe(1);
  });

  it('syncs by state vector and keeps its client id when its own updates come back', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    a.post({ text: 'one' }, T0);
    a.post({ text: 'two' }, T0 + 1);
    // The same device restarts with an empty document and replays its own stored updates.
    const restarted = new BucketDoc(GROUP, BUCKET, 'dev-a');
    deliver(restarted, log);
    expect(restarted.doc.clientID).toBe(a.clientId);
    const key = restarted.post({ text: 'three' }, T0 + 2);
    expect(key).toBe(`${a.prefix}/m/2`);
    expect(restarted.messages().map((m) => m.text)).toEqual(['one', 'two', 'three']);
    // A peer that has nothing gets the difference; encodeState holds every author, so it is not one author's update.
    const diff = restarted.encodeState(a.stateVector());
    const print = vi.spyOn(console, 'log').mockImplementation(() => {});
    Y.applyUpdate(a.doc, diff);
    expect(print.mock.calls.flat().join(' ')).toMatch(/Changed the client-id/);
    expect(a.doc.clientID).not.toBe(a.clientId);
    print.mockRestore();
    expect(a.messages()).toEqual(restarted.messages());
    // A raw Y.applyUpdate of our own structs makes Yjs re-roll doc.clientID; the next local write restores it.
    expect(a.post({ text: 'four' }, T0 + 3)).toBe(`${a.prefix}/m/3`);
    expect(a.doc.clientID).toBe(a.clientId);
  });

  it('refuses local writes while its own earlier updates are missing', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const k = a.post({ text: 'one' }, T0);
    a.post({ text: 'two' }, T0 + 1);
    a.deleteForEveryone(k, T0 + 2);
    const restarted = new BucketDoc(GROUP, BUCKET, 'dev-a');
    restarted.applyRemote(log[1]!.update, 'dev-a');
    restarted.applyRemote(log[2]!.update, 'dev-a');
    expect(restarted.ownHistoryPending()).toBe(true);
    expect(() => restarted.post({ text: 'three' }, T0 + 3)).toThrow(/incomplete/);
    restarted.applyRemote(log[0]!.update, 'dev-a');
    expect(restarted.ownHistoryPending()).toBe(false);
    restarted.post({ text: 'three' }, T0 + 3);
    expect(restarted.messages().map((m) => [m.text, m.deleted])).toEqual([
      ['', true],
      ['two', false],
      ['three', false],
    ]);
  });

  it('merges one author’s updates into one that still validates and gives the same document', () => {
    const log: Logged[] = [];
    const a = replica('dev-a', log);
    const b = replica('dev-b', log);
    const k = a.post({ text: 'x' }, T0);
    a.edit(k, 'y', T0 + 1);
    const k2 = a.post({ text: 'z', attachments: [attachment] }, T0 + 2);
    a.deleteForEveryone(k2, T0 + 3);
    b.post({ text: 'from b' }, T0 + 4);
    deliver(a, log.filter((l) => l.device === 'dev-b'));
    a.react(k, '👍');
    a.markRead(k, T0 + 5);
    const own = log.filter((l) => l.device === 'dev-a').map((l) => l.update);
    const merged = mergeOwnUpdates(own);
    expect(validateUpdate(merged, a.clientId)).toEqual({ ok: true });
    expect(validateUpdate(merged, b.clientId).ok).toBe(false);
    const viaMerged = new BucketDoc(GROUP, BUCKET, 'dev-c');
    viaMerged.applyRemote(merged, 'dev-a');
    deliver(viaMerged, log.filter((l) => l.device === 'dev-b'));
    const viaSingle = new BucketDoc(GROUP, BUCKET, 'dev-d');
    deliver(viaSingle, log);
    expect(viaMerged.messages()).toEqual(viaSingle.messages());
    expect(viaMerged.messages()).toEqual(a.messages());
    // Merging again over an already-applied prefix is harmless.
    viaSingle.applyRemote(merged, 'dev-a');
    expect(viaSingle.messages()).toEqual(a.messages());
  });
});

describe('message size', () => {
  const attachment = (i: number) => ({ id: `a${i}`.padEnd(128, 'x'), name: '€'.repeat(255), mime: 'image/png'.padEnd(127, 'x'), size: 1, sha256: 'a'.repeat(64), key: 'k'.padEnd(128, 'x') });
  it('counts UTF-8 bytes: every field within its own limit can still make a value over maxValueBytes', () => {
    // 10,000 '€' are 30,000 bytes (3 each); 16 attachments with 255-'€' names add ~20,000 more.
    const big = { t: '€'.repeat(LIMITS.maxTextLength), ts: T0, a: Array.from({ length: LIMITS.maxAttachments }, (_, i) => attachment(i)) };
    expect(new TextEncoder().encode(JSON.stringify(big)).length).toBeGreaterThan(LIMITS.maxValueBytes);
    expect(checkMessageValue(big)).toMatch(/more than/);
    // The same text with nine attachments stays under the limit (in UTF-16 units it is over a third of it).
    const fits = { ...big, a: big.a.slice(0, 9) };
    expect(JSON.stringify(fits).length * 3).toBeGreaterThan(LIMITS.maxValueBytes);
    expect(new TextEncoder().encode(JSON.stringify(fits)).length).toBeLessThanOrEqual(LIMITS.maxValueBytes);
    expect(checkMessageValue(fits)).toBeNull();
  });
});
