/**
 * What a sync did, for people: the admin console and the sync service's log show it. Derived from the plan alone,
 * so a refused plan (the leaver guard) can be shown the same way as an applied one.
 */
import type { AccountRef, GroupKind, GroupRole } from '@schoolmesh/model';
import type { RemovalReason, SyncPlan } from './plan.ts';

export interface GroupReport {
  key: string;
  /** Absent for groups the plan creates. */
  group?: string;
  kind: GroupKind;
  name: string;
  action: 'create' | 'update' | 'end' | 'close' | 'reopen';
  /** The name before a rename the directory asked for. */
  renamedFrom?: string;
  added: { account: AccountRef; role: GroupRole }[];
  removed: { account: AccountRef; reason: RemovalReason }[];
  roles: { account: AccountRef; from: GroupRole; to: GroupRole }[];
}

export interface PlanReport {
  /** Groups the sync creates. */
  created: GroupReport[];
  /** Groups whose members or roles change (including reopened ones). */
  changed: GroupReport[];
  /** Groups that end (read-only) or close (everyone removed). */
  removed: GroupReport[];
  joiners: string[];
  leavers: string[];
  totals: { groupsCreated: number; groupsChanged: number; groupsEnded: number; groupsClosed: number; added: number; removed: number; roleChanges: number };
}

export function reportOfPlan(plan: SyncPlan): PlanReport {
  const report: PlanReport = {
    created: [],
    changed: [],
    removed: [],
    joiners: [...plan.joiners],
    leavers: [...plan.leavers],
    totals: { groupsCreated: 0, groupsChanged: 0, groupsEnded: 0, groupsClosed: 0, added: 0, removed: 0, roleChanges: 0 },
  };
  for (const c of plan.changes) {
    const g: GroupReport = {
      key: c.key,
      kind: c.kind,
      name: c.name,
      action: c.action,
      added: c.action === 'create' ? [...(c.members ?? [])] : [...c.add],
      removed: [...c.remove],
      roles: c.setRole.map((r) => ({ account: r.account, from: r.from, to: r.role })),
    };
    if (c.group !== undefined) g.group = c.group;
    if (c.renamedFrom !== undefined) g.renamedFrom = c.renamedFrom;
    report.totals.added += g.added.length;
    report.totals.removed += g.removed.length;
    report.totals.roleChanges += g.roles.length;
    if (c.action === 'create') {
      report.totals.groupsCreated++;
      report.created.push(g);
    } else if (c.action === 'end' || c.action === 'close') {
      if (c.action === 'end') report.totals.groupsEnded++;
      else report.totals.groupsClosed++;
      report.removed.push(g);
    } else {
      report.totals.groupsChanged++;
      report.changed.push(g);
    }
  }
  return report;
}
