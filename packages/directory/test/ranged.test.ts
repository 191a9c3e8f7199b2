/**
 * Active Directory's ranged attribute retrieval (connection.ts, `completeRanges`). OpenLDAP never sends ranged
 * attributes, so the slapd tests cannot produce one: here a scripted server answers as AD does (MaxValRange 1,500,
 * the last range ending in `*`), and the reader must put a 3,700-member group together whole.
 */
import type { Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { completeRanges, values } from '../src/ldap/connection.ts';

const DN = 'CN=alle-schueler,OU=Gruppen,DC=schule,DC=lan';
const members = Array.from({ length: 3_700 }, (_, i) => `CN=Schüler ${i},OU=Schueler,DC=schule,DC=lan`);

/** Answers base searches for `member;range=<from>-*` with at most 1,500 values, as AD does. */
function adLikeServer(all: string[], options: { drop?: number } = {}) {
  const asked: string[] = [];
  return {
    asked,
    search: async (base: string, opts: { attributes?: string[] }) => {
      expect(base).toBe(DN);
      const wanted = opts.attributes?.[0] ?? '';
      asked.push(wanted);
      const from = Number(/range=(\d+)-\*$/.exec(wanted)![1]);
      if (options.drop === from) return { searchEntries: [{ dn: DN } as Entry], searchReferences: [] };
      const to = Math.min(all.length, from + 1_500) - 1;
      const last = to === all.length - 1;
      return { searchEntries: [{ dn: DN, [`member;range=${from}-${last ? '*' : to}`]: all.slice(from, to + 1) } as Entry], searchReferences: [] };
    },
  };
}

describe('ranged attribute retrieval (Active Directory)', () => {
  it('reads a group of 3,700 members whole, range by range, under the plain attribute name', async () => {
    const server = adLikeServer(members);
    const entry = { dn: DN, cn: 'alle-schueler', 'member;range=0-1499': members.slice(0, 1_500) } as Entry;
    expect(await completeRanges(server as never, entry)).toBe(2);
    expect(server.asked).toEqual(['member;range=1500-*', 'member;range=3000-*']);
    expect(values(entry, 'member')).toEqual(members);
    expect(Object.keys(entry).some((k) => k.includes(';range='))).toBe(false);
  });

  it('leaves entries without ranges alone (OpenLDAP), and fails clearly when the server stops answering a range', async () => {
    const plain = { dn: DN, member: members.slice(0, 3) } as Entry;
    expect(await completeRanges(adLikeServer(members) as never, plain)).toBe(0);
    expect(values(plain, 'member')).toEqual(members.slice(0, 3));
    // A group must never be read as smaller than it is: that would remove members in the next sync.
    const cut = { dn: DN, 'member;range=0-1499': members.slice(0, 1_500) } as Entry;
    await expect(completeRanges(adLikeServer(members, { drop: 1_500 }) as never, cut)).rejects.toThrow(/did not answer the range 1500-\* of member/);
  });
});
