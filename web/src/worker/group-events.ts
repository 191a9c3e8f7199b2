import type { Engine, GroupEvent } from '@schoolmesh/engine';
import { parseAccountRef } from '@schoolmesh/model';
import type { GroupEventView } from '../api/protocol.ts';
import type { KnownPerson } from './people.ts';

/**
 * The group's changes since `since` (ms) as the chat shows them, named by the people this device knows (`known`). Key rotations
 * and shares are not among them (the engine leaves them out); a policy change shows only what members notice
 * (retention, who may post, read receipts).
 */
export function groupEvents(engine: Engine, group: string, since: number, known: () => Map<string, KnownPerson>): GroupEventView[] {
  const me = engine.account;
  // The people are looked up only when an event falls in the page's time (most pages have none).
  let people: Map<string, KnownPerson> | undefined;
  const nameOf = (account: string) => {
    people ??= known();
    return people.get(account)?.name ?? parseAccountRef(account).id;
  };
  const out: GroupEventView[] = [];
  for (const e of engine.history(group)) {
    if (e.time < since) continue;
    const base = { id: e.id, ts: e.time, by: nameOf(e.by), byMe: e.by === me };
    const view = viewOf(e, base, nameOf, me);
    if (view) out.push(view);
  }
  return out;
}

function viewOf(e: GroupEvent, base: Pick<GroupEventView, 'id' | 'ts' | 'by' | 'byMe'>, nameOf: (account: string) => string, me: string): GroupEventView | undefined {
  const target = (account: string) => ({ target: nameOf(account), targetMe: account === me });
  switch (e.type) {
    case 'created':
    case 'renamed':
      return { ...base, type: e.type, name: e.name };
    case 'added':
    case 'role':
      return { ...base, type: e.type, ...target(e.account), role: e.role };
    case 'removed':
      return { ...base, type: 'removed', ...target(e.account) };
    case 'left':
      return { ...base, type: 'left' };
    case 'device-added':
      return { ...base, type: 'device-added', ...target(e.account) };
    case 'device-removed':
      return e.account ? { ...base, type: 'device-removed', ...target(e.account) } : undefined;
    case 'policy': {
      const seen: Partial<GroupEventView> = {};
      for (const c of e.changed) {
        if (c.field === 'retentionDays') seen.retentionDays = c.value;
        if (c.field === 'whoMayPost') seen.whoMayPost = c.value;
        if (c.field === 'readReceipts') seen.readReceipts = c.value;
      }
      return Object.keys(seen).length > 0 ? { ...base, type: 'policy', ...seen } : undefined;
    }
  }
}
