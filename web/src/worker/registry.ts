import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { ProfileSummary } from '../api/protocol.ts';
import type { ProfileLock } from './encrypted-storage.ts';

/** A profile as stored: its summary, and the salt and work factor of the key that encrypts its data. */
export interface ProfileRecord extends ProfileSummary {
  lock: ProfileLock;
}

/**
 * The list of profiles in this browser: names only, so a picker can show them. Each profile's data (identity,
 * groups, messages) lives in its own IndexedDB database, `profileDatabase(id)`, opened only for that profile.
 */
interface RegistrySchema extends DBSchema {
  profiles: { key: string; value: ProfileRecord };
}

const REGISTRY = 'schoolmesh';

export function profileDatabase(id: string): string {
  return `schoolmesh-profile-${id}`;
}

let registry: Promise<IDBPDatabase<RegistrySchema>> | undefined;

function db(): Promise<IDBPDatabase<RegistrySchema>> {
  registry ??= openDB<RegistrySchema>(REGISTRY, 1, {
    upgrade(database) {
      database.createObjectStore('profiles', { keyPath: 'id' });
    },
  });
  return registry;
}

export function summaryOf(record: ProfileRecord): ProfileSummary {
  const { lock: _lock, ...summary } = record;
  return summary;
}

/** Every profile's summary (never its lock parameters), oldest first. */
export async function listProfiles(): Promise<ProfileSummary[]> {
  const all = await (await db()).getAll('profiles');
  return all.sort((a, b) => a.createdAt - b.createdAt).map(summaryOf);
}

export async function getProfile(id: string): Promise<ProfileRecord | undefined> {
  return (await db()).get('profiles', id);
}

export async function putProfile(profile: ProfileRecord): Promise<void> {
  await (await db()).put('profiles', profile);
}

export async function deleteProfile(id: string): Promise<void> {
  await (await db()).delete('profiles', id);
}
