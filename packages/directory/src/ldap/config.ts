/**
 * LDAP configuration: connection (service account, TLS, paging), where people and groups are and how their
 * attributes map to the directory model, and three presets (linuxmuster.net 7, UCS@school, plain
 * inetOrgPerson/groupOfNames). See the package README for every field and for Active Directory.
 */
import { z } from 'zod';
import { escapeFilterValue } from '../escape.ts';

const role = z.enum(['pupil', 'teacher', 'parent', 'staff', 'admin']);
/** An attribute description: a name or OID, with options (`;binary`). */
const attribute = z.string().regex(/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)(;[A-Za-z0-9-]+)*$/, 'an LDAP attribute name');

/** An attribute that points to people, by DN (`member`, `owner`) or by user id (`memberUid`, `sophomorixAdmins`). */
const reference = z.object({ attribute, kind: z.enum(['dn', 'id']) }).strict();

/** When an account counts as locked (sign-in refused); any matching rule locks. */
const lockRule = z.union([
  /** Present at all: `pwdAccountLockedTime` (OpenLDAP ppolicy). */
  z.object({ attribute, present: z.literal(true) }).strict(),
  /** One of these values, case-insensitively: `sophomorixStatus` L, D, F. */
  z.object({ attribute, values: z.array(z.string()).min(1) }).strict(),
  /** A value matching this regular expression: `sambaAcctFlags` containing D. */
  z.object({ attribute, pattern: z.string().min(1) }).strict(),
  /** An integer with any of these bits: AD `userAccountControl` 2 (ACCOUNTDISABLE). */
  z.object({ attribute, bitmask: z.number().int().positive() }).strict(),
  /** An expiry in the past: `shadowExpire` (days since 1970), AD `accountExpires` (filetime), GeneralizedTime. */
  z.object({ attribute, expires: z.enum(['days', 'filetime', 'generalized']) }).strict(),
]);

const scope = z.enum(['one', 'sub']).default('sub');

const peopleSchema = z
  .object({
    base: z.string().min(1),
    scope,
    /** Which entries are people of the school (a textual RFC 4515 filter; fixed, never built from input). */
    filter: z.string().min(1).default('(objectClass=inetOrgPerson)'),
    /** The account id (unique, stable): `uid`, `sAMAccountName`. */
    id: attribute.default('uid'),
    /** What people type at sign-in (default: the id attribute); `mail` or `userPrincipalName` work too. */
    login: attribute.optional(),
    givenName: attribute.default('givenName'),
    surname: attribute.default('sn'),
    displayName: attribute.optional(),
    /** The role: values matched in order against glob patterns (`*` for anything), case-insensitively. */
    role: z.object({ attribute, map: z.array(z.tuple([z.string().min(1), role])).min(1) }).strict().optional(),
    /** The role of people no rule matches; without it they are left out (service accounts, computers). */
    defaultRole: role.optional(),
    /** A pupil's class as an attribute (`sophomorixAdminClass`); otherwise from class group membership. */
    class: attribute.optional(),
    /** A parent's children. */
    children: reference.optional(),
    locked: z.array(lockRule).default([]),
  })
  .strict();

const groupSchema = z
  .object({
    base: z.string().min(1),
    scope,
    filter: z.string().min(1).default('(objectClass=groupOfNames)'),
    /** The group's id (and the class name, for classes). */
    id: attribute.default('cn'),
    /** A display name; defaults to the id. */
    name: attribute.optional(),
    /** Taken off the id (and off a class attribute's values): `p_ag_`, `gym1-`. */
    stripPrefix: z.string().optional(),
    members: z.array(reference).default([{ attribute: 'member', kind: 'dn' }]),
    /** Class teachers, department heads, club leaders. */
    leaders: z.array(reference).default([]),
    /** Teachers (and staff) who are members lead the group (clubs). In class groups they always do. */
    teachersLead: z.boolean().default(false),
  })
  .strict();

export const ldapConfigSchema = z
  .object({
    /** `ldap://host:389` (then set startTls) or `ldaps://host:636`. */
    url: z.string().regex(/^ldaps?:\/\/[^/?#]+\/?$/, 'ldap://host[:port] or ldaps://host[:port]'),
    /** Upgrade an ldap:// connection with StartTLS before anything is sent. */
    startTls: z.boolean().default(false),
    tls: z
      .object({
        /** PEM certificate(s) of the CA that signed the server's certificate. */
        ca: z.union([z.string(), z.array(z.string())]).optional(),
        /** Only for tests and first steps: accept any certificate. */
        rejectUnauthorized: z.boolean().default(true),
        /** The name the certificate must carry, when it differs from the URL's host. */
        servername: z.string().optional(),
      })
      .strict()
      .prefault({}),
    /** Allow simple binds (passwords) over an unencrypted connection. Never outside tests on loopback. */
    allowPlaintext: z.boolean().default(false),
    /** The read-only service account the sync and the user look-up bind as. */
    bindDn: z.string().min(1),
    bindPassword: z.string().min(1),
    timeoutMs: z.number().int().positive().default(15_000),
    connectTimeoutMs: z.number().int().positive().default(5_000),
    /** Entries per page of a paged search (RFC 2696); under the server's size limit (OpenLDAP 500, AD 1000). */
    pageSize: z.number().int().min(1).max(1000).default(250),
    /** The school year the classes belong to (`2026/27`); a new value forms new class groups. */
    schoolYear: z.string().regex(/^[^:\s][^:]{0,19}$/).optional(),
    people: peopleSchema,
    classes: groupSchema.optional(),
    departments: groupSchema.optional(),
    clubs: groupSchema.optional(),
    login: z
      .object({
        /** Failed sign-ins per user name within the window before further tries are refused. */
        maxFailuresPerUser: z.number().int().positive().default(5),
        /** Failed sign-ins per client address (a whole school behind one NAT shares one). */
        maxFailuresPerAddress: z.number().int().positive().default(50),
        windowSeconds: z.number().int().positive().default(300),
        /** How many user names and addresses the limiter remembers (memory bound). */
        maxTracked: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.url.startsWith('ldap://') && !c.startTls && !c.allowPlaintext)
      ctx.addIssue({ code: 'custom', path: ['startTls'], message: 'passwords would travel in clear text: use ldaps://, startTls, or (tests only) allowPlaintext' });
    if (!c.people.role && !c.people.defaultRole) ctx.addIssue({ code: 'custom', path: ['people', 'role'], message: 'set people.role or people.defaultRole' });
    for (const rule of c.people.locked) {
      if ('pattern' in rule) {
        try {
          new RegExp(rule.pattern);
        } catch {
          ctx.addIssue({ code: 'custom', path: ['people', 'locked'], message: `not a regular expression: ${rule.pattern}` });
        }
      }
    }
  });

export type LdapConfig = z.output<typeof ldapConfigSchema>;
export type LdapConfigInput = z.input<typeof ldapConfigSchema>;
export type PeopleMapping = LdapConfig['people'];
export type GroupMapping = z.output<typeof groupSchema>;
export type LockRule = z.output<typeof lockRule>;
export type Reference = z.output<typeof reference>;

/** The mapping part of a configuration: what a preset provides. */
export type LdapMapping = Pick<LdapConfigInput, 'people' | 'classes' | 'departments' | 'clubs'>;

export interface PresetOptions {
  /** The tree's base DN (`dc=schule,dc=de`; linuxmuster: `OU=SCHOOLS,DC=linuxmuster,DC=lan`). */
  base: string;
  /** linuxmuster: the school's OU (`default-school`); UCS@school: the school's OU (`gym1`). */
  school?: string;
}

const lowerGlob = (s: string) => escapeFilterValue(s);

/**
 * Plain OpenLDAP: inetOrgPerson people under `ou=people`, the role in `employeeType`, classes, departments and
 * clubs as groupOfNames under `ou=classes`, `ou=departments`, `ou=clubs` (members in `member`, class teachers,
 * heads and leaders in `owner`), a parent's children as DNs in `seeAlso` (there is no standard attribute),
 * locked by the ppolicy overlay (`pwdAccountLockedTime`) or `shadowExpire`.
 */
export function inetOrgPersonPreset({ base }: PresetOptions): LdapMapping {
  const group = (ou: string) => ({
    base: `ou=${ou},${base}`,
    filter: '(objectClass=groupOfNames)',
    id: 'cn',
    name: 'description',
    members: [{ attribute: 'member', kind: 'dn' as const }],
    leaders: [{ attribute: 'owner', kind: 'dn' as const }],
  });
  return {
    people: {
      base: `ou=people,${base}`,
      filter: '(objectClass=inetOrgPerson)',
      id: 'uid',
      givenName: 'givenName',
      surname: 'sn',
      displayName: 'displayName',
      role: {
        attribute: 'employeeType',
        map: [
          ['pupil', 'pupil'],
          ['student', 'pupil'],
          ['schüler*', 'pupil'],
          ['teacher', 'teacher'],
          ['lehrer*', 'teacher'],
          ['parent', 'parent'],
          ['eltern*', 'parent'],
          ['staff', 'staff'],
          ['admin', 'admin'],
        ],
      },
      children: { attribute: 'seeAlso', kind: 'dn' },
      locked: [
        { attribute: 'pwdAccountLockedTime', present: true },
        { attribute: 'shadowExpire', expires: 'days' },
      ],
    },
    classes: group('classes'),
    departments: group('departments'),
    clubs: group('clubs'),
  };
}

/**
 * linuxmuster.net 7 (Samba AD, sophomorix): users with `sophomorixRole` and `sophomorixAdminClass` under the
 * school's OU; classes are groups with `sophomorixType=adminclass`, class teachers in `sophomorixAdmins`;
 * Fachschaften and AGs are projects (`sophomorixType=project`) named `p_fs_…` and `p_ag_…` (a convention to
 * agree with the school); `sophomorixStatus` L (locked), D (deactivated) and F (frozen) lock, R and K (about to be
 * removed) are left out; AD's ACCOUNTDISABLE bit and `accountExpires` lock too.
 */
export function linuxmusterPreset({ base, school = 'default-school' }: PresetOptions): LdapMapping {
  const ou = `OU=${school},${base}`;
  const project = (prefix: string) => ({
    base: ou,
    filter: `(&(objectClass=group)(sophomorixType=project)(cn=${lowerGlob(prefix)}*))`,
    id: 'cn',
    name: 'displayName',
    stripPrefix: prefix,
    members: [
      { attribute: 'sophomorixMembers', kind: 'id' as const },
      { attribute: 'member', kind: 'dn' as const },
    ],
    leaders: [{ attribute: 'sophomorixAdmins', kind: 'id' as const }],
  });
  return {
    people: {
      base: ou,
      filter:
        '(&(objectClass=user)(!(objectClass=computer))(|(sophomorixRole=student)(sophomorixRole=teacher)(sophomorixRole=parent)(sophomorixRole=staff)(sophomorixRole=schooladministrator))(!(sophomorixStatus=R))(!(sophomorixStatus=K)))',
      id: 'sAMAccountName',
      givenName: 'givenName',
      surname: 'sn',
      displayName: 'displayName',
      role: {
        attribute: 'sophomorixRole',
        map: [
          ['student', 'pupil'],
          ['teacher', 'teacher'],
          ['parent', 'parent'],
          ['staff', 'staff'],
          ['schooladministrator', 'admin'],
        ],
      },
      class: 'sophomorixAdminClass',
      locked: [
        { attribute: 'sophomorixStatus', values: ['L', 'D', 'F'] },
        { attribute: 'userAccountControl', bitmask: 2 },
        { attribute: 'accountExpires', expires: 'filetime' },
      ],
    },
    classes: {
      base: ou,
      filter: '(&(objectClass=group)(sophomorixType=adminclass))',
      id: 'cn',
      members: [{ attribute: 'member', kind: 'dn' }],
      leaders: [{ attribute: 'sophomorixAdmins', kind: 'id' }],
    },
    departments: project('p_fs_'),
    clubs: project('p_ag_'),
  };
}

/**
 * UCS@school (Univention): users of the school (`ucsschoolSchool`) with `ucsschoolRole` values such as
 * `student:school:<ou>`; classes are groups with `ucsschoolRole=school_class:school:<ou>` named `<ou>-7a`, members
 * in `uniqueMember` (teachers who are members are the class teachers); work groups
 * (`workgroup:school:<ou>`) named `<ou>-fs-…` are Fachschaften and `<ou>-ag-…` AGs (a convention to agree with
 * the school); parents (`legal_guardian`) point to their children with `ucsschoolLegalWard`; disabled accounts
 * have `shadowExpire` in the past, or `D` in `sambaAcctFlags`.
 */
export function ucsschoolPreset({ base, school }: PresetOptions): LdapMapping {
  if (!school) throw new Error('the UCS@school preset needs the school OU (school)');
  const ou = `ou=${school},${base}`;
  const s = escapeFilterValue(school);
  const workgroup = (kind: string, teachersLead: boolean) => ({
    base: `cn=groups,${ou}`,
    filter: `(&(ucsschoolRole=workgroup:school:${s})(cn=${s}-${kind}-*))`,
    id: 'cn',
    name: 'description',
    stripPrefix: `${school}-${kind}-`,
    members: [{ attribute: 'uniqueMember', kind: 'dn' as const }],
    teachersLead,
  });
  return {
    people: {
      base: `cn=users,${ou}`,
      filter: `(&(objectClass=person)(ucsschoolSchool=${s}))`,
      id: 'uid',
      givenName: 'givenName',
      surname: 'sn',
      displayName: 'displayName',
      role: {
        attribute: 'ucsschoolRole',
        map: [
          [`student:school:${school}`, 'pupil'],
          [`teacher:school:${school}`, 'teacher'],
          [`legal_guardian:school:${school}`, 'parent'],
          [`school_admin:school:${school}`, 'admin'],
          [`staff:school:${school}`, 'staff'],
        ],
      },
      children: { attribute: 'ucsschoolLegalWard', kind: 'dn' },
      locked: [
        { attribute: 'shadowExpire', expires: 'days' },
        { attribute: 'sambaAcctFlags', pattern: 'D' },
      ],
    },
    classes: {
      base: `cn=groups,${ou}`,
      filter: `(ucsschoolRole=school_class:school:${s})`,
      id: 'cn',
      stripPrefix: `${school}-`,
      members: [{ attribute: 'uniqueMember', kind: 'dn' }],
    },
    departments: workgroup('fs', false),
    clubs: workgroup('ag', true),
  };
}

export const presets = { inetorgperson: inetOrgPersonPreset, linuxmuster: linuxmusterPreset, ucsschool: ucsschoolPreset } as const;
export type PresetName = keyof typeof presets;

/**
 * The form a relay's config file uses: connection settings, optionally a preset, and sections that override the
 * preset's (each field given replaces the preset's field of that section).
 */
export const ldapSettingsSchema = z
  .object({
    preset: z
      .object({ name: z.enum(['inetorgperson', 'linuxmuster', 'ucsschool']), base: z.string().min(1), school: z.string().min(1).optional() })
      .strict()
      .optional(),
    people: z.record(z.string(), z.unknown()).optional(),
    classes: z.record(z.string(), z.unknown()).nullable().optional(),
    departments: z.record(z.string(), z.unknown()).nullable().optional(),
    clubs: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .passthrough();

export class LdapConfigError extends Error {
  override readonly name = 'LdapConfigError';
}

/** Settings (preset + overrides, as in a config file) → a checked configuration. `null` switches a group section off. */
export function resolveLdapConfig(settings: unknown): LdapConfig {
  const s = ldapSettingsSchema.safeParse(settings);
  if (!s.success) throw new LdapConfigError(z.prettifyError(s.error));
  const { preset, people, classes, departments, clubs, ...rest } = s.data;
  const mapping: Record<string, unknown> = preset ? { ...presets[preset.name](preset.school ? { base: preset.base, school: preset.school } : { base: preset.base }) } : {};
  const merge = (key: 'people' | 'classes' | 'departments' | 'clubs', override: Record<string, unknown> | null | undefined) => {
    if (override === null) delete mapping[key];
    else if (override) mapping[key] = { ...((mapping[key] as object | undefined) ?? {}), ...override };
  };
  merge('people', people);
  merge('classes', classes);
  merge('departments', departments);
  merge('clubs', clubs);
  const parsed = ldapConfigSchema.safeParse({ ...rest, ...mapping });
  if (!parsed.success) throw new LdapConfigError(z.prettifyError(parsed.error));
  return parsed.data;
}
