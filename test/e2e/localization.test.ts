/**
 * Every string of the web app is localized: each `msg(…, { id })` in web/src has an English template, no English
 * template is stale, each template uses the same number of expressions as its German source, and no UI component
 * calls `msg` without an explicit id (the hand-written template set is keyed by id).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { templates } from '../../web/src/i18n/en.ts';

const src = resolve(import.meta.dirname, '../../web/src');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('web app localization', () => {
  it('has an English template for every German string, with the same expressions', async () => {
    const german = new Map<string, number>();
    let calls = 0;
    for (const file of await sources(src)) {
      const text = await readFile(file, 'utf8');
      calls += (text.match(/\bmsg\(/g) ?? []).length;
      for (const m of text.matchAll(/\bmsg\(\s*(str`(?:[^`])*`|'(?:[^'\\]|\\.)*')\s*,\s*\{\s*id:\s*'([^']+)'/g)) {
        const expressions = (m[1]!.match(/\$\{/g) ?? []).length;
        const id = m[2]!;
        if (german.has(id)) expect(german.get(id), `id ${id} used with different expressions`).toBe(expressions);
        german.set(id, expressions);
      }
    }
    const withIds = [...german.keys()].length;
    expect(withIds).toBeGreaterThan(50);
    // Every msg( call was matched above, so none lacks an id (a repeated id counts once in `german`).
    let matched = 0;
    for (const file of await sources(src)) matched += [...(await readFile(file, 'utf8')).matchAll(/\bmsg\(\s*(str`(?:[^`])*`|'(?:[^'\\]|\\.)*')\s*,\s*\{\s*id:/g)].length;
    expect(matched).toBe(calls);

    const english = templates as Record<string, string | { strings: readonly string[]; values: readonly unknown[] }>;
    expect([...german.keys()].filter((id) => !(id in english)), 'ids without English').toEqual([]);
    expect(Object.keys(english).filter((id) => !german.has(id)), 'stale English ids').toEqual([]);
    for (const [id, expressions] of german) {
      const t = english[id]!;
      const count = typeof t === 'string' ? 0 : t.values.length;
      expect(count, `expressions of ${id}`).toBe(expressions);
    }
  });
});
