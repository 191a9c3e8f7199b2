/**
 * The chat list's kept summaries: stored sealed with the profile and read back at the next unlock, used only while
 * the seen time and the live buckets are what they were, dropped (also from the store) when the group changes, and
 * never kept when the group changed while the summary was being computed.
 */
import { MemoryStorage } from '@schoolmesh/storage';
import { describe, expect, it } from 'vitest';
import { ChatSummaries, type ChatSummaryRecord } from '../src/worker/chat-summaries.ts';
import { EncryptedStorage, deriveProfileKey } from '../src/worker/encrypted-storage.ts';

const record = (over: Partial<ChatSummaryRecord> = {}): ChatSummaryRecord => ({
  last: { text: 'Morgen fällt Sport aus', author: 'dev-1', ts: 1_000, mine: false, deleted: false },
  unread: 3,
  seen: 500,
  oldest: 200,
  buckets: '1,2',
  ...over,
});

describe('ChatSummaries', () => {
  it('reads stored summaries back (sealed: no plaintext at rest) and checks seen time and buckets', async () => {
    const inner = new MemoryStorage();
    const storage = new EncryptedStorage(inner, await deriveProfileKey('1357', new Uint8Array(16).fill(3), 1_000));
    const first = new ChatSummaries(storage);
    first.set('g1', first.generation('g1'), record());
    await first.flushed();
    for (const r of await inner.loadRange([])) expect(new TextDecoder().decode(r.data)).not.toContain('Sport');

    const next = new ChatSummaries(storage);
    await next.load();
    expect(next.valid('g1', 500, [1, 2])).toEqual(record());
    expect(next.valid('g1', 600, [1, 2])).toBeUndefined();
    expect(next.valid('g1', 500, [1, 2, 3])).toBeUndefined();
    expect(next.valid('g2', 500, [1, 2])).toBeUndefined();
  });

  it('drops a summary from memory and store when its group changes, and keeps none computed across a change', async () => {
    const storage = new MemoryStorage();
    const summaries = new ChatSummaries(storage);
    summaries.set('g1', summaries.generation('g1'), record());
    summaries.set('g2', summaries.generation('g2'), record());
    summaries.invalidate('g1');
    await summaries.flushed();
    expect(summaries.valid('g1', 500, [1, 2])).toBeUndefined();
    expect((await storage.loadRange(['app', 'summary'])).map((r) => r.key[2])).toEqual(['g2']);

    const before = summaries.generation('g2');
    summaries.invalidateAll(['g2', 'g3']);
    summaries.set('g2', before, record({ unread: 9 }));
    await summaries.flushed();
    expect(summaries.valid('g2', 500, [1, 2])).toBeUndefined();
    expect(await storage.loadRange(['app', 'summary'])).toEqual([]);

    const reloaded = new ChatSummaries(storage);
    await storage.save(['app', 'summary', 'bad'], new TextEncoder().encode('{not json'));
    await reloaded.load();
    expect(reloaded.valid('bad', 500, [1, 2])).toBeUndefined();
  });
});
