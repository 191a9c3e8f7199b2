import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type GroupKind, type Role, type SchoolPolicy, defaultSchoolPolicy, groupKinds, roles } from '@schoolmesh/model';
import { z } from 'zod';

const days = z.number().int().min(1).max(3650);

/** A school policy as a config file or the admin API gives it: every field optional, unknown fields refused. */
export const schoolPolicyPatchSchema = z
  .object({
    pupilDirectMessages: z.boolean().optional(),
    whoMayCreateGroups: z.array(z.enum(roles as [Role, ...Role[]])).optional(),
    retentionDays: z.partialRecord(z.enum(groupKinds as [GroupKind, ...GroupKind[]]), days).optional(),
  })
  .strict();

export type SchoolPolicyPatch = z.infer<typeof schoolPolicyPatchSchema>;

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

export function applyPolicyPatch(base: SchoolPolicy, patch: SchoolPolicyPatch): SchoolPolicy {
  return {
    pupilDirectMessages: patch.pupilDirectMessages ?? base.pupilDirectMessages,
    whoMayCreateGroups: patch.whoMayCreateGroups ? [...new Set(patch.whoMayCreateGroups)] : [...base.whoMayCreateGroups],
    retentionDays: { ...base.retentionDays, ...patch.retentionDays },
  };
}

export function parsePolicyPatch(value: unknown): SchoolPolicyPatch {
  const result = schoolPolicyPatchSchema.safeParse(value);
  if (!result.success) throw new PolicyError(result.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; '));
  return result.data;
}

/**
 * The school's policies (retention days per group kind, pupil-to-pupil direct messages, who may create groups):
 * the config's `directorySync.policy` over the defaults, then what admins changed since, kept in
 * `dataDir/school-policy.json` (the admin changes win over the config until an admin changes them again).
 */
export class SchoolPolicyStore {
  private constructor(
    private readonly path: string,
    private readonly fromConfig: SchoolPolicy,
    private changes: SchoolPolicyPatch,
  ) {}

  static async open(dataDir: string, configured: SchoolPolicyPatch = {}): Promise<SchoolPolicyStore> {
    const path = join(dataDir, 'school-policy.json');
    let changes: SchoolPolicyPatch = {};
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        changes = parsePolicyPatch(JSON.parse(text));
      } catch (error) {
        throw new PolicyError(`${path}: ${(error as Error).message}`);
      }
    }
    return new SchoolPolicyStore(path, applyPolicyPatch(defaultSchoolPolicy, configured), changes);
  }

  get(): SchoolPolicy {
    return applyPolicyPatch(this.fromConfig, this.changes);
  }

  /** Merges a change (checked first: a bad change is refused whole and changes nothing) and saves it. */
  async update(patch: unknown): Promise<SchoolPolicy> {
    const checked = parsePolicyPatch(patch);
    const next: SchoolPolicyPatch = {
      ...this.changes,
      ...checked,
      retentionDays: { ...this.changes.retentionDays, ...checked.retentionDays },
    };
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`);
    await rename(tmp, this.path);
    this.changes = next;
    return this.get();
  }
}
