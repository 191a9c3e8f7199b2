import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { BucketDoc, ContentError, LIMITS, ROOT, validateUpdate } from '../src/index.ts';
import { BUCKET, GROUP, type Logged, T0, capture, deliver, encodeStructs, replica } from './helpers.ts';

/** A device `dev-m` (the attacker) and an honest `dev-h`, each with a message; `victim` is a third replica. */
function setup() {
  const log: Logged[] = [];
  const honest = replica('dev-h', log);
  const mallory = replica('dev-m', log);
  const honestKey = honest.post({ text: 'honest words' }, T0);
  const malloryKey = mallory.post({ text: 'my own' }, T0 + 1);
  deliver(mallory, log.filter((l) => l.device === 'dev-h'));
  const victim = new BucketDoc(GROUP, BUCKET, 'dev-v');
  deliver(victim, log);
  return { log, honest, mallory, honestKey, malloryKey, victim };
}

/** The raw update of one transaction done directly on mallory's Y.Doc (bypassing BucketDoc's checks). */
function raw(doc: BucketDoc, fn: (root: Y.Map<unknown>, ydoc: Y.Doc) => void): Uint8Array {
  const updates = capture(doc, () => doc.doc.transact(() => fn(doc.doc.getMap(ROOT), doc.doc)));
  expect(updates.length).toBe(1);
  return updates[0]!;
}

/** A plain Y.Doc holding `doc`'s state that writes with `doc`'s client id, for shapes BucketDoc's root map can't make. */
function sideDoc(doc: BucketDoc): { side: Y.Doc; updates: Uint8Array[] } {
  const side = new Y.Doc();
  side.clientID = 1; // not ours while loading, so Yjs does not re-roll the id
  Y.applyUpdate(side, doc.encodeState());
  side.clientID = doc.clientId;
  const updates: Uint8Array[] = [];
  side.on('update', (u: Uint8Array) => updates.push(u));
  return { side, updates };
}

function expectRejected(victim: BucketDoc, update: Uint8Array, author: string, reason?: RegExp) {
  const before = victim.encodeState();
  const messagesBefore = victim.messages();
  const verdict = validateUpdate(update, victim.clientIdOf(author), victim.doc);
  expect(verdict.ok).toBe(false);
  if (reason && !verdict.ok) expect(verdict.reason).toMatch(reason);
  expect(validateUpdate(update, victim.clientIdOf(author)).ok).toBe(false);
  expect(() => victim.applyRemote(update, author)).toThrow(ContentError);
  expect(victim.encodeState()).toEqual(before);
  expect(victim.messages()).toEqual(messagesBefore);
}

describe('authorship', () => {
  it('accepts an author writing, overwriting and deleting its own keys', () => {
    const { mallory, malloryKey, victim } = setup();
    const id = mallory.clientId;
    const updates = capture(mallory, () => {
      mallory.edit(malloryKey, 'edited', T0 + 2);
      mallory.react(malloryKey, '👍');
      mallory.react(malloryKey, null);
      mallory.markRead(malloryKey, T0 + 3);
      mallory.deleteForEveryone(malloryKey, T0 + 4);
    });
    for (const u of updates) {
      expect(validateUpdate(u, id)).toEqual({ ok: true });
      expect(validateUpdate(u, id, victim.doc)).toEqual({ ok: true });
      victim.applyRemote(u, 'dev-m');
    }
    expect(victim.messages().find((m) => m.key === malloryKey)?.deleted).toBe(true);
    // Map deletion of one's own key: a delete set for the author's client only.
    const del = raw(mallory, (root) => root.delete(malloryKey));
    expect(Y.decodeUpdate(del).structs).toEqual([]);
    expect(validateUpdate(del, id, victim.doc)).toEqual({ ok: true });
  });

  it("rejects another device's update claimed by the wrong author", () => {
    const { honest, victim } = setup();
    const update = capture(honest, () => honest.post({ text: 'hi' }, T0 + 5))[0]!;
    expectRejected(victim, update, 'dev-m', /not of the author/);
    victim.applyRemote(update, 'dev-h');
  });

  it("rejects writing under another author's prefix", () => {
    const { mallory, honest, victim } = setup();
    const update = raw(mallory, (root) => root.set(`${honest.prefix}/m/zz`, { t: 'forged', ts: T0 }));
    expectRejected(victim, update, 'dev-m', /not the author's/);
  });

  it("rejects deleting another author's item", () => {
    const { mallory, honestKey, victim } = setup();
    const update = raw(mallory, (root) => root.delete(honestKey));
    expect(Y.decodeUpdate(update).structs).toEqual([]);
    expectRejected(victim, update, 'dev-m', /deletes items of client/);
  });

  it("rejects overwriting another author's key through an origin", () => {
    const { mallory, honest, honestKey, victim } = setup();
    // Yjs writes an overwrite as a new item whose origin is the old value; parent and key are then inferred.
    const update = raw(mallory, (root) => root.set(honestKey, { t: 'forged', ts: T0 }));
    const { structs } = Y.decodeUpdate(update);
    const item = structs[0] as Y.Item;
    expect(item.origin?.client).toBe(honest.clientId);
    expect(item.parentSub).toBeNull();
    expectRejected(victim, update, 'dev-m', /origin belongs to another client/);
    // Without the delete set it is still refused, on the origin alone.
    expectRejected(victim, encodeStructs([item]), 'dev-m', /origin belongs to another client/);
    // A right origin into someone else's list is refused too.
    const right = new Y.Item(item.id, null, null, null, Y.createID(honest.clientId, 0), null, null, item.content);
    expectRejected(victim, encodeStructs([right]), 'dev-m', /right origin/);
  });

  it('rejects an origin that is not an earlier item of the author', () => {
    const { mallory, victim } = setup();
    const next = Y.getState(mallory.doc.store, mallory.clientId);
    const content = new Y.ContentAny([{ t: 'x', ts: T0 }]);
    const self = new Y.Item(Y.createID(mallory.clientId, next), null, Y.createID(mallory.clientId, next), null, null, null, null, content);
    expectRejected(victim, encodeStructs([self]), 'dev-m', /not an earlier item/);
  });

  it('rejects nested Y types, text and binary content, other root types and unknown keys', () => {
    const { mallory, victim } = setup();
    const p = mallory.prefix;
    expectRejected(victim, raw(mallory, (root) => root.set(`${p}/m/zz`, new Y.Map())), 'dev-m', /ContentType/);
    expectRejected(victim, raw(mallory, (root) => root.set(`${p}/m/zz`, new Uint8Array([1]))), 'dev-m', /ContentBinary/);
    const text = sideDoc(mallory);
    text.side.getText(ROOT).insert(0, 'x');
    expectRejected(victim, text.updates[0]!, 'dev-m', /ContentString/);
    const list = sideDoc(mallory);
    list.side.getArray(ROOT).push([{ t: 'x', ts: 1 }]);
    expectRejected(victim, list.updates[0]!, 'dev-m', /without a key/);
    expectRejected(victim, raw(mallory, (_, d) => d.getArray('a').push([1])), 'dev-m', /root type "a"/);
    expectRejected(victim, raw(mallory, (_, d) => d.getMap('other').set(`${p}/m/1`, { t: 'x', ts: 1 })), 'dev-m', /root type/);
    expectRejected(victim, raw(mallory, (root) => root.set(`${p}/q`, 'x')), 'dev-m', /no known kind/);
  });

  it('rejects writing into a nested type the author created earlier', () => {
    // Build, on a separate doc with mallory's client id, a nested map and then an item inside it.
    const { mallory, victim } = setup();
    const { side, updates } = sideDoc(mallory);
    const nested = new Y.Map<unknown>();
    side.getMap(ROOT).set(`${mallory.prefix}/m/zz`, nested);
    nested.set('t', 'inner');
    expect(updates.length).toBe(2);
    const inner = Y.decodeUpdate(updates[1]!).structs[0] as Y.Item;
    expect(typeof inner.parent).not.toBe('string'); // the parent is the nested type's ID
    expectRejected(victim, updates[1]!, 'dev-m', /nested type/);
  });

  it('rejects values that break the schema', () => {
    const { mallory, victim } = setup();
    const p = mallory.prefix;
    const bad: [string, unknown][] = [
      [`${p}/m/zz`, { t: 'x'.repeat(LIMITS.maxTextLength + 1), ts: T0 }],
      [`${p}/m/zz`, { t: 'x', ts: T0, extra: 1 }],
      [`${p}/m/zz`, { t: 'x', ts: -5 }],
      [`${p}/m/zz`, { t: 'gone', ts: T0, d: true }],
      [`${p}/m/zz`, JSON.parse('{"__proto__":{"t":"x","ts":1}}')],
      [`${p}/m/zz`, 'just a string'],
      [`${p}/x/${p}/m/0`, 'not an emoji'],
      [`${p}/read`, { k: 'nonsense', ts: T0 }],
    ];
    for (const [key, value] of bad) expectRejected(victim, raw(mallory, (root) => root.set(key, value)), 'dev-m');
  });

  it('rejects oversized updates', () => {
    const { mallory, victim } = setup();
    const big = raw(mallory, (root) => {
      for (let i = 0; i < 10; i++) root.set(`${mallory.prefix}/m/b${i}`, { t: 'y'.repeat(9_000), ts: T0 });
    });
    expect(big.length).toBeGreaterThan(LIMITS.maxUpdateBytes);
    expectRejected(victim, big, 'dev-m', /bytes/);
    expect(validateUpdate(big, mallory.clientId, victim.doc, { maxBytes: 1 << 20 })).toEqual({ ok: true });
  });

  it('rejects garbage and every truncation of a valid update', () => {
    const { mallory, victim } = setup();
    const valid = capture(mallory, () => mallory.post({ text: 'valid message', attachments: [] }, T0 + 9))[0]!;
    expect(validateUpdate(valid, mallory.clientId, victim.doc)).toEqual({ ok: true });
    for (let n = 0; n < valid.length; n++) expectRejected(victim, valid.slice(0, n), 'dev-m');
    // A truncated view on a larger buffer must not read past its end.
    expect(validateUpdate(valid.subarray(0, valid.length - 1), mallory.clientId).ok).toBe(false);
    for (const garbage of [[255, 255, 255], [1, 1, 200, 200, 200, 200, 200, 200, 200, 200, 1], [7, 0, 0, 0]])
      expectRejected(victim, new Uint8Array(garbage), 'dev-m');
    expect(validateUpdate('nope' as unknown as Uint8Array, mallory.clientId).ok).toBe(false);
    expect(validateUpdate(valid, 0).ok).toBe(false);
  });
});
