import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SigningKeyPair, generateSigningKeyPair, randomBytes, signingKeyPairFromSeed } from '@schoolmesh/crypto';
import {
  AUTHORITY_CERT_MS,
  type AuthorityCertificate,
  decodeAuthorityCertificate,
  issueAuthorityCertificate,
  rootKeyOf,
} from '@schoolmesh/identity';
import { fromBase64Url, toBase64Url } from '@schoolmesh/wire';

/** What a running relay needs of its school's keys: the authority key and its certificate. Never the root. */
export interface RelayKeys {
  schoolId: string;
  schoolName: string;
  rootPublicKey: Uint8Array;
  authority: SigningKeyPair;
  authorityCert: AuthorityCertificate;
  /** Token for the admin HTTP API (loopback only). */
  adminToken: string;
}

const DAY = 24 * 60 * 60 * 1000;

export class KeystoreError extends Error {
  override readonly name = 'KeystoreError';
}

const paths = (dataDir: string) => ({
  keys: join(dataDir, 'keys'),
  root: join(dataDir, 'keys', 'school-root.key'),
  authority: join(dataDir, 'keys', 'authority.key'),
  cert: join(dataDir, 'keys', 'authority.cert'),
  admin: join(dataDir, 'keys', 'admin-token'),
  school: join(dataDir, 'school.json'),
});

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isInitialized(dataDir: string): Promise<boolean> {
  return exists(paths(dataDir).cert);
}

/**
 * Creates a school: a root key, an authority key certified by it for a year, and an admin token, written to
 * `dataDir/keys` (mode 0600). The root key is only needed to renew the authority certificate: the admin guide
 * says to move it off the relay. Refuses to overwrite an existing school.
 */
export async function initSchool(dataDir: string, schoolName: string, now = Date.now()): Promise<RelayKeys> {
  const p = paths(dataDir);
  if (await exists(p.cert)) throw new KeystoreError(`${dataDir} already holds a school; refusing to overwrite it`);
  await mkdir(p.keys, { recursive: true, mode: 0o700 });
  const root = await generateSigningKeyPair();
  const authority = await generateSigningKeyPair();
  const authorityCert = await issueAuthorityCertificate(root, { schoolName, authorityKey: authority.publicKey, notBefore: now - DAY });
  const adminToken = toBase64Url(randomBytes(24));
  await writeFile(p.root, `${toBase64Url(root.seed)}\n`, { mode: 0o600 });
  await writeFile(p.authority, `${toBase64Url(authority.seed)}\n`, { mode: 0o600 });
  await writeFile(p.cert, `${toBase64Url(authorityCert.bytes)}\n`, { mode: 0o644 });
  await writeFile(p.admin, `${adminToken}\n`, { mode: 0o600 });
  await writeFile(p.school, `${JSON.stringify({ id: authorityCert.school, name: schoolName, root: toBase64Url(root.publicKey) }, null, 2)}\n`);
  return { schoolId: authorityCert.school, schoolName, rootPublicKey: root.publicKey, authority, authorityCert, adminToken };
}

/** Loads the relay's keys; clear errors for a missing or damaged key directory. */
export async function loadRelayKeys(dataDir: string): Promise<RelayKeys> {
  const p = paths(dataDir);
  if (!(await exists(p.cert))) throw new KeystoreError(`no school in ${dataDir}: run "schoolmesh-relay init" first`);
  try {
    const authorityCert = decodeAuthorityCertificate(fromBase64Url((await readFile(p.cert, 'utf8')).trim()));
    const authority = await signingKeyPairFromSeed(fromBase64Url((await readFile(p.authority, 'utf8')).trim()));
    if (toBase64Url(authority.publicKey) !== toBase64Url(authorityCert.authorityKey))
      throw new KeystoreError('authority.key does not match authority.cert');
    const rootPublicKey = rootKeyOf(authorityCert.school);
    if (!rootPublicKey) throw new KeystoreError('authority.cert names no valid school');
    const adminToken = (await readFile(p.admin, 'utf8')).trim();
    return { schoolId: authorityCert.school, schoolName: authorityCert.schoolName, rootPublicKey, authority, authorityCert, adminToken };
  } catch (error) {
    if (error instanceof KeystoreError) throw error;
    throw new KeystoreError(`cannot load the keys in ${p.keys}: ${(error as Error).message}`);
  }
}

/** Renews the authority certificate with the root key (kept offline; pass its path). */
export async function renewAuthority(dataDir: string, rootKeyPath: string, now = Date.now()): Promise<AuthorityCertificate> {
  const keys = await loadRelayKeys(dataDir);
  const root = await signingKeyPairFromSeed(fromBase64Url((await readFile(rootKeyPath, 'utf8')).trim()));
  if (toBase64Url(root.publicKey) !== toBase64Url(keys.rootPublicKey)) throw new KeystoreError('that root key is not this school\'s');
  const cert = await issueAuthorityCertificate(root, {
    schoolName: keys.schoolName,
    authorityKey: keys.authority.publicKey,
    notBefore: now - DAY,
    notAfter: now + AUTHORITY_CERT_MS,
  });
  await writeFile(paths(dataDir).cert, `${toBase64Url(cert.bytes)}\n`, { mode: 0o644 });
  return cert;
}
