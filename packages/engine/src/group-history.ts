import { type GroupState, type MembershipOp, certificateAccount, certificateDeviceId } from '@schoolmesh/membership';
import type { AccountRef, GroupPolicy, GroupRole } from '@schoolmesh/model';

/** What every event says: which op, when (the author's clock), and who did it. */
interface EventBase {
  /** The membership op's id. */
  id: string;
  /** The author's clock when it signed the op (informational, as everywhere in the log). */
  time: number;
  /** The account that signed it, and the device it signed with. */
  by: AccountRef;
  byDevice: string;
}

/**
 * A change of a group's membership as its members should see it (docs/threat-model.md: "every addition is visible
 * to the group"). Only ops that took effect; key rotations and key shares are left out (they change nobody).
 */
export type GroupEvent = EventBase &
  (
    | { type: 'created'; name: string }
    | { type: 'added'; account: AccountRef; role: GroupRole }
    | { type: 'removed'; account: AccountRef }
    | { type: 'left' }
    | { type: 'role'; account: AccountRef; role: GroupRole }
    | { type: 'policy'; changed: PolicyChange[] }
    | { type: 'renamed'; name: string }
    /** A further device of an account that already had one here: the moment to notice a device nobody expected. */
    | { type: 'device-added'; account: AccountRef; device: string }
    | { type: 'device-removed'; account: AccountRef | undefined; device: string }
  );

/** One field of the policy that a `set-policy` changed, with its new value. */
export type PolicyChange = { [K in keyof GroupPolicy]: { field: K; value: GroupPolicy[K] } }[keyof GroupPolicy];

const POLICY_FIELDS: readonly (keyof GroupPolicy)[] = ['retentionDays', 'whoMayPost', 'whoMayAdd', 'historyForNewMembers', 'readReceipts', 'keyRotationDays'];

/**
 * The events of a group's log, in the log's deterministic order: `ops` are its accepted ops in that order, `state`
 * the resolved state (whose `ignored` lists the ops without effect). Every replica holding the same ops shows the
 * same events.
 */
export function groupHistory(ops: readonly MembershipOp[], state: GroupState): GroupEvent[] {
  const ignored = new Set(state.ignored.map((i) => i.op));
  const devicesOf = new Map<AccountRef, Set<string>>();
  const accountOfDevice = new Map<string, AccountRef>();
  let policy: GroupPolicy | undefined;
  const out: GroupEvent[] = [];
  for (const op of ops) {
    if (ignored.has(op.id)) continue;
    const base: EventBase = { id: op.id, time: op.time, by: certificateAccount(op.author), byDevice: certificateDeviceId(op.author) };
    const body = op.body;
    switch (body.type) {
      case 'create':
        policy = body.policy;
        out.push({ ...base, type: 'created', name: body.name });
        break;
      case 'add':
        out.push({ ...base, type: 'added', account: body.account, role: body.role });
        break;
      case 'remove':
        out.push(body.account === base.by ? { ...base, type: 'left' } : { ...base, type: 'removed', account: body.account });
        devicesOf.delete(body.account);
        break;
      case 'set-role':
        out.push({ ...base, type: 'role', account: body.account, role: body.role });
        break;
      case 'set-policy': {
        const before = policy;
        policy = body.policy;
        const changed = POLICY_FIELDS.filter((f) => before?.[f] !== body.policy[f]).map((field) => ({ field, value: body.policy[field] }) as PolicyChange);
        if (changed.length > 0) out.push({ ...base, type: 'policy', changed });
        break;
      }
      case 'rename':
        out.push({ ...base, type: 'renamed', name: body.name });
        break;
      case 'add-device': {
        const account = certificateAccount(body.certificate);
        const device = certificateDeviceId(body.certificate);
        const held = devicesOf.get(account) ?? new Set<string>();
        // A renewed certificate of a device already here is no news; an account's first device is its joining.
        if (held.size > 0 && !held.has(device)) out.push({ ...base, type: 'device-added', account, device });
        held.add(device);
        devicesOf.set(account, held);
        accountOfDevice.set(device, account);
        break;
      }
      case 'remove-device': {
        const account = accountOfDevice.get(body.device);
        if (account) devicesOf.get(account)?.delete(body.device);
        out.push({ ...base, type: 'device-removed', account, device: body.device });
        break;
      }
      case 'rotate-key':
      case 'share-key':
        break;
    }
  }
  return out;
}
