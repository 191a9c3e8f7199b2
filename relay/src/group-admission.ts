import { type MembershipOp, decodeOp } from '@schoolmesh/membership';
import { type AccountRef, type Role, type SchoolPolicy, parseAccountRef } from '@schoolmesh/model';

/** What the relay knows of the school it serves and of its people, to judge who created a group. */
export interface GroupAdmissionContext {
  /** This relay's school id: groups created by accounts of other schools follow their own school's rules. */
  school: string;
  policy: () => Pick<SchoolPolicy, 'whoMayCreateGroups' | 'pupilDirectMessages'>;
  /** The role of an account (an `AccountRef`) as far as the relay knows it from device certificates; undefined if unknown. */
  roleOf: (account: AccountRef) => Promise<Role | undefined>;
}

/**
 * The school's group rules, applied by its relay to groups it has not stored yet: a group created by an account of
 * this school is taken only if the creator's role may create groups (`whoMayCreateGroups`; admins always may, the
 * directory sync is one), and a direct chat between two pupils only if `pupilDirectMessages` allows it (a direct
 * chat partner whose role the relay does not know, of this school or a partner school, counts as a pupil). The web app offers nothing else; this stops a modified
 * client. Groups the relay already holds are not judged again when the policy changes later.
 *
 * Returns why the group is refused, or undefined when the batch may go to the replica (also when it holds no
 * create op: such ops wait in the log for their parents, which are then judged when they come).
 */
export async function groupCreationRefusal(ops: readonly Uint8Array[], context: GroupAdmissionContext): Promise<string | undefined> {
  let create: MembershipOp | undefined;
  for (const bytes of ops) {
    try {
      const op = decodeOp(bytes);
      if (op.body.type === 'create') {
        create = op;
        break;
      }
    } catch {
      // Undecodable ops are the replica's to reject, with its reason.
    }
  }
  if (create?.body.type !== 'create') return undefined;
  const creator = create.author;
  if (creator.school !== context.school || creator.role === 'admin') return undefined;
  const policy = context.policy();
  if (create.body.kind !== 'direct') {
    return policy.whoMayCreateGroups.includes(creator.role) ? undefined : `the school does not let the role ${creator.role} create groups`;
  }
  if (creator.role !== 'pupil' || policy.pupilDirectMessages) return undefined;
  for (const member of create.body.members) {
    const role = await context.roleOf(member.account);
    if (role === undefined || role === 'pupil') return 'the school does not allow direct chats between pupils';
  }
  return undefined;
}

/**
 * The role of an account from the certificates the relay has seen: the devices it enrolled (this school), then the
 * devices listed in the groups it holds (partner schools too). Undefined when no device of the account is known.
 */
export async function knownRole(
  account: AccountRef,
  school: string,
  enrollment: { devices(): Promise<{ account: string; role: Role }[]> },
  replica: { groups(): string[]; state(group: string): { devices: Map<string, { account: AccountRef; certificate: { role: Role } }> } | undefined },
): Promise<Role | undefined> {
  const { school: of, id } = parseAccountRef(account);
  if (of === school) {
    const enrolled = (await enrollment.devices()).find((d) => d.account === id);
    if (enrolled) return enrolled.role;
  }
  for (const group of replica.groups()) {
    for (const device of replica.state(group)?.devices.values() ?? []) if (device.account === account) return device.certificate.role;
  }
  return undefined;
}
