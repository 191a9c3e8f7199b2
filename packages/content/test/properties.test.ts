import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { BucketDoc, ContentError, type MessageRef, mergeOwnUpdates, validateUpdate } from '../src/index.ts';
import { BUCKET, GROUP, type Logged, T0, encodeStructs, prng, replica } from './helpers.ts';

const DEVICES = ['dev-a', 'dev-b', 'dev-c'];
const EMOJI = ['👍', '❤️', '😂', '🎉'];

const opArb = fc.record({
  actor: fc.nat(DEVICES.length - 1),
  kind: fc.constantFrom('post', 'reply', 'edit', 'delete', 'react', 'unreact', 'read', 'foreign', 'sync'),
  pick: fc.nat(1_000),
  text: fc.string({ maxLength: 12 }),
  at: fc.nat(3_600_000),
});
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Random order, about a third of the updates twice. */
function delivery(log: readonly Logged[], random: () => number): Logged[] {
  return shuffle([...log, ...log.filter(() => random() < 0.33)], random);
}

function run(ops: Op[], seed: number) {
  const random = prng(seed);
  const log: Logged[] = [];
  const docs = DEVICES.map((d) => replica(d, log));
  for (const op of ops) {
    const doc = docs[op.actor]!;
    const now = T0 + op.at;
    const all = doc.messages();
    const live = all.filter((m) => !m.deleted);
    const mine = live.filter((m) => m.authorClientId === doc.clientId);
    const pick = <T>(list: T[]): T | undefined => (list.length === 0 ? undefined : list[op.pick % list.length]);
    switch (op.kind) {
      case 'post':
        doc.post({ text: op.text || 'x' }, now);
        break;
      case 'reply': {
        const target = pick(all);
        if (target) doc.post({ text: op.text || 'x', replyTo: target.key }, now);
        break;
      }
      case 'edit': {
        const target = pick(mine);
        if (target) doc.edit(target.key, op.text || 'edited', now);
        break;
      }
      case 'delete': {
        const target = pick(mine);
        if (target) doc.deleteForEveryone(target.key, now);
        break;
      }
      case 'react': {
        const target = pick(live);
        if (target) doc.react(target.key, EMOJI[op.pick % EMOJI.length]!);
        break;
      }
      case 'unreact': {
        const target = pick(all);
        if (target) doc.react(target.key, null);
        break;
      }
      case 'read': {
        const target = pick(all);
        if (target) doc.markRead(target.key, now);
        break;
      }
      case 'foreign': {
        const target: MessageRef = { bucket: BUCKET - 1 - (op.pick % 3), key: `${doc.prefix}/m/${op.pick % 5}` };
        doc.react(target, op.pick % 2 === 0 ? EMOJI[0]! : null);
        break;
      }
      case 'sync':
        // Partial, out-of-order delivery with duplicates, including the device's own updates.
        for (const l of delivery(log, random).filter(() => random() < 0.6)) doc.applyRemote(l.update, l.device);
        break;
    }
  }
  return { log, docs, random };
}

describe('properties', () => {
  it('replicas converge under any delivery order and duplicates; every local update validates', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.nat(), (ops, seed) => {
        const { log, docs, random } = run(ops, seed);
        for (const { device, update } of log) {
          expect(validateUpdate(update, docs[DEVICES.indexOf(device)]!.clientId)).toEqual({ ok: true });
        }
        const observer = new BucketDoc(GROUP, BUCKET, 'observer');
        for (const doc of [...docs, observer]) {
          for (const l of delivery(log, random)) doc.applyRemote(l.update, l.device);
        }
        const expected = docs[0]!.messages();
        for (const doc of [...docs, observer]) {
          expect(doc.messages()).toEqual(expected);
          expect(doc.foreignReactions()).toEqual(docs[0]!.foreignReactions());
          expect(doc.readMarkers()).toEqual(docs[0]!.readMarkers());
          expect(doc.doc.clientID).toBe(doc.clientId);
        }
        // Per-author compaction gives the same document.
        const compacted = new BucketDoc(GROUP, BUCKET, 'compacted');
        for (const device of shuffle(DEVICES, random)) {
          const own = log.filter((l) => l.device === device).map((l) => l.update);
          if (own.length > 0) compacted.applyRemote(mergeOwnUpdates(own), device, { maxBytes: 1 << 20 });
        }
        expect(compacted.messages()).toEqual(expected);
      }),
      { seed: 20_240_901, numRuns: 200 },
    );
  });

  // A fixed document and its per-author updates, as material for mutation.
  const base = run(
    fc.sample(opArb, { seed: 7, numRuns: 60 }).map((op, i) => (i % 4 === 0 ? { ...op, kind: 'post' } : op)),
    7,
  );
  const samples = base.log;
  const baseState = (() => {
    const doc = new BucketDoc(GROUP, BUCKET, 'fuzz-target');
    for (const l of samples) doc.applyRemote(l.update, l.device);
    return doc.encodeState();
  })();
  /** A fresh replica holding the base document (loaded as trusted local state). */
  const loaded = () => {
    const doc = new BucketDoc(GROUP, BUCKET, 'fuzz-target');
    Y.applyUpdate(doc.doc, baseState);
    return doc;
  };

  it('validateUpdate is total on random bytes', () => {
    const target = loaded();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(DEVICES.length - 1), (bytes, who) => {
        const author = target.clientIdOf(DEVICES[who]!);
        for (const verdict of [validateUpdate(bytes, author), validateUpdate(bytes, author, target.doc)]) {
          expect(typeof verdict.ok).toBe('boolean');
          if (!verdict.ok) expect(typeof verdict.reason).toBe('string');
        }
      }),
      { seed: 99, numRuns: 300 },
    );
  });

  it('mutated updates are rejected or, if accepted, apply cleanly and touch only their author', () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }),
      fc.record({ op: fc.constant('remove' as const), at: fc.nat(), byte: fc.constant(0) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), byte: fc.constant(0) }),
    );
    let accepted = 0;
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, mutations) => {
        const { device, update } = samples[which % samples.length]!;
        const bytes = [...update];
        for (const m of mutations) {
          const at = bytes.length === 0 ? 0 : m.at % bytes.length;
          if (m.op === 'set') bytes[at] = m.byte;
          else if (m.op === 'insert') bytes.splice(at, 0, m.byte);
          else if (m.op === 'remove') bytes.splice(at, 1);
          else bytes.length = at;
        }
        const mutated = new Uint8Array(bytes);
        const target = loaded();
        const author = target.clientIdOf(device);
        expect(typeof validateUpdate(mutated, author).ok).toBe('boolean');
        const verdict = validateUpdate(mutated, author, target.doc);
        const others = () => target.messages().filter((m) => m.authorClientId !== author).map((m) => ({ ...m, reactions: {}, readBy: [] }));
        const before = others();
        const state = target.encodeState();
        if (verdict.ok) {
          accepted++;
          target.applyRemote(mutated, device);
          // Others' messages are untouched (their reactions and read marks may point at the author's messages).
          expect(others()).toEqual(before);
          expect(target.doc.clientID).toBe(target.clientId);
        } else {
          expect(() => target.applyRemote(mutated, device)).toThrow(ContentError);
          expect(Buffer.compare(target.encodeState(), state)).toBe(0);
        }
      }),
      { seed: 4242, numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('forged structs are rejected or, if accepted, apply cleanly and touch only their author', () => {
    const target0 = loaded();
    const ids = DEVICES.map((d) => target0.clientIdOf(d));
    const keys = [...target0.doc.getMap<unknown>('m').keys()];
    for (const id of ids) {
      const p = id.toString(36);
      keys.push(`${p}/m/new`, `${p}/read`, `${p}/x/${keys[0]}`, `${p}/zz`);
    }
    /** An ID; `mine` makes it the author's own. */
    const idArb = fc.record({ client: fc.constantFrom(...ids), clock: fc.nat(60), mine: fc.boolean() });
    const valueArb = fc.oneof(
      fc.record({ t: fc.string({ maxLength: 5 }), ts: fc.nat() }),
      fc.constantFrom('👍', null, 'word', 5, { k: keys[0], ts: 1 }, { t: '', ts: 1, d: true }, [1]),
    );
    const rarely = <T>(arb: fc.Arbitrary<T>, weight: number) =>
      fc.oneof({ weight, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
    const itemArb = fc.record({
      origin: rarely(idArb, 1),
      rightOrigin: rarely(idArb, 8),
      parent: fc.constantFrom<string | { client: number; clock: number }>('m', 'm', 'm', 'other', { client: ids[0]!, clock: 0 }),
      key: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 9, arbitrary: fc.constantFrom(...keys) }),
      /** Rewrite the key's prefix to the author's. */
      own: fc.boolean(),
      content: fc.oneof(
        { weight: 6, arbitrary: fc.array(valueArb, { minLength: 1, maxLength: 2 }) },
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) },
        { weight: 1, arbitrary: fc.constantFrom<unknown[] | number>([], 0) },
      ),
    });
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.nat(DEVICES.length - 1),
        fc.nat(60),
        fc.array(fc.record({ item: itemArb, foreign: rarely(fc.constantFrom(...ids), 12) }), { maxLength: 3 }),
        fc.array(fc.tuple(rarely(fc.constantFrom(...ids), 4), fc.nat(60), fc.nat(4)), { maxLength: 2 }),
        (who, start, specs, ds) => {
          const device = DEVICES[who]!;
          const author = ids[who]!;
          let clock = start;
          const own = (key: string | null, rewrite: boolean) =>
            key === null || !rewrite ? key : `${author.toString(36)}${key.slice(key.indexOf('/'))}`;
          const structs = specs.map(({ item, foreign }) => {
            const content =
              typeof item.content === 'number' ? new Y.ContentDeleted(item.content) : new Y.ContentAny(item.content);
            const id = Y.createID(foreign ?? author, clock);
            clock += content.getLength();
            const origin = item.origin && Y.createID(item.origin.mine ? author : item.origin.client, item.origin.clock);
            const rightOrigin = item.rightOrigin && Y.createID(item.rightOrigin.client, item.rightOrigin.clock);
            const parent =
              typeof item.parent === 'string' ? item.parent : Y.createID(item.parent.client, item.parent.clock);
            // biome-ignore lint/suspicious/noExplicitAny: Yjs writes a string parent as a root key; its types say otherwise
            return new Y.Item(id, null, origin, null, rightOrigin, parent as any, own(item.key, item.own), content);
          });
          let update: Uint8Array;
          try {
            update = encodeStructs(
              structs,
              ds.map(([client, c, len]) => [client ?? author, c, len]),
            );
          } catch {
            return; // Yjs refuses to encode this shape; nothing to test
          }
          const target = loaded();
          expect(typeof validateUpdate(update, author).ok).toBe('boolean');
          const verdict = validateUpdate(update, author, target.doc);
          const others = () =>
            target
              .messages()
              .filter((m) => m.authorClientId !== author)
              .map((m) => ({ ...m, reactions: {}, readBy: [] }));
          const before = others();
          const sv = Y.decodeStateVector(target.stateVector());
          const state = target.encodeState();
          if (verdict.ok) {
            accepted++;
            target.applyRemote(update, device);
            expect(others()).toEqual(before);
            const after = Y.decodeStateVector(target.stateVector());
            for (const id of ids) if (id !== author) expect(after.get(id)).toBe(sv.get(id));
            expect(target.doc.clientID).toBe(target.clientId);
          } else {
            expect(() => target.applyRemote(update, device)).toThrow(ContentError);
            expect(Buffer.compare(target.encodeState(), state)).toBe(0);
          }
        },
      ),
      { seed: 77, numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(40);
  });
});
