import { describe, expect, it } from 'vitest';
import {
  BUCKET_MS,
  accountRef,
  administers,
  atLeast,
  bucketOf,
  defaultGroupPolicy,
  groupRoles,
  isExpired,
  mayDirectMessage,
  oldestLiveBucket,
  parseAccountRef,
  readsContent,
  validatePolicy,
} from '../src/index.ts';

describe('model', () => {
  it('orders group roles', () => {
    expect(atLeast('owner', 'moderator')).toBe(true);
    expect(atLeast('reader', 'member')).toBe(false);
    expect(atLeast('manager', 'owner')).toBe(true);
    expect(atLeast('owner', 'manager')).toBe(true);
    expect(readsContent('manager')).toBe(false);
    expect(groupRoles.filter(readsContent)).toEqual(['owner', 'moderator', 'member', 'reader']);
    expect(groupRoles.filter(administers)).toEqual(['manager', 'owner']);
  });

  it('names accounts across schools', () => {
    const ref = accountRef('SCHOOLID', 'm.müller');
    expect(parseAccountRef(ref)).toEqual({ school: 'SCHOOLID', id: 'm.müller' });
    expect(() => parseAccountRef('nobody')).toThrow();
  });

  it('gives announcements to moderators only and keeps pupils DMs a school decision', () => {
    expect(defaultGroupPolicy('announcement').whoMayPost).toBe('moderators');
    expect(defaultGroupPolicy('class').retentionDays).toBe(14);
    expect(mayDirectMessage('pupil', 'pupil', { ...defaultSchoolPolicyLike(), pupilDirectMessages: false })).toBe(false);
    expect(mayDirectMessage('pupil', 'teacher')).toBe(true);
  });

  it('deletes a bucket only when its last moment is past retention', () => {
    const day = 20_000;
    const now = (day + 14) * BUCKET_MS + 1;
    expect(oldestLiveBucket(now, 14)).toBe(day);
    expect(isExpired(day * BUCKET_MS + 1, now, 14)).toBe(true);
    expect(isExpired(day * BUCKET_MS + 2, now, 14)).toBe(false);
    expect(isExpired((day + 1) * BUCKET_MS - 1, now, 14)).toBe(false);
    // the bucket `day` still holds a live message, so it is kept
    expect(bucketOf((day + 1) * BUCKET_MS - 1)).toBe(day);
  });

  it('validates policies', () => {
    expect(validatePolicy(defaultGroupPolicy('club'))).toEqual([]);
    expect(validatePolicy({ ...defaultGroupPolicy('club'), retentionDays: 0 })).toHaveLength(1);
  });
});

function defaultSchoolPolicyLike() {
  return {
    pupilDirectMessages: true,
    whoMayCreateGroups: ['teacher' as const],
    retentionDays: { class: 14, department: 90, club: 30, custom: 14, direct: 14, announcement: 30 },
  };
}
