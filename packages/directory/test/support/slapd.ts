/**
 * A throwaway OpenLDAP slapd (the Debian package) for tests: a slapd.conf with the stock schemas (core, cosine,
 * inetorgperson, nis), a small test schema with AD/sophomorix- and UCS@school-like attributes, the ppolicy
 * overlay, a self-signed certificate for LDAPS and StartTLS, and the data loaded with slapadd before start. It
 * listens on free loopback ports only, runs as the current user, and is stopped and deleted afterwards.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';
export const slapdAvailable = existsSync(SLAPD) && existsSync(SLAPADD) && existsSync('/usr/bin/openssl');

/** OIDs under 1.3.6.1.4.1.32473, the arc RFC 5612 reserves for documentation and examples. */
const TEST_SCHEMA = `
attributetype ( 1.3.6.1.4.1.32473.1.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.2 NAME 'sophomorixRole' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.3 NAME 'sophomorixAdminClass' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.4 NAME 'sophomorixStatus' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.5 NAME 'sophomorixType' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.6 NAME 'sophomorixAdmins' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.1.1.7 NAME 'sophomorixMembers' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.1.1.8 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.9 NAME 'accountExpires' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.10 NAME 'ucsschoolRole' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.1.1.11 NAME 'ucsschoolSchool' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.1.1.12 NAME 'ucsschoolLegalWard' SUP distinguishedName )
attributetype ( 1.3.6.1.4.1.32473.1.1.13 NAME 'sambaAcctFlags' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1.2.1 NAME 'user' SUP inetOrgPerson STRUCTURAL MAY ( sAMAccountName $ sophomorixRole $ sophomorixAdminClass $ sophomorixStatus $ userAccountControl $ accountExpires ) )
objectclass ( 1.3.6.1.4.1.32473.1.2.2 NAME 'computer' SUP user STRUCTURAL )
objectclass ( 1.3.6.1.4.1.32473.1.2.3 NAME 'group' SUP top STRUCTURAL MUST cn MAY ( member $ sAMAccountName $ sophomorixType $ sophomorixAdmins $ sophomorixMembers $ description $ displayName ) )
objectclass ( 1.3.6.1.4.1.32473.1.2.4 NAME 'ucsschoolType' SUP top AUXILIARY MAY ( ucsschoolRole $ ucsschoolSchool $ ucsschoolLegalWard $ sambaAcctFlags ) )
`;

export interface SlapdOptions {
  suffix: string;
  rootPassword: string;
  /** slapd.conf lines after `database mdb` … `directory` (access rules, limits, overlays' settings). */
  databaseConfig: string;
  /** Loaded with slapadd before slapd starts. */
  ldif: string;
}

export interface Slapd {
  url: string;
  ldapsUrl: string;
  rootDn: string;
  /** The self-signed certificate (PEM) of the server; trust it as the CA. */
  certificate: string;
  dir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startSlapd(options: SlapdOptions): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'schoolmesh-slapd-'));
  let child: ChildProcess | undefined;
  try {
    await mkdir(join(dir, 'db'));
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    await writeFile(join(dir, 'test.schema'), TEST_SCHEMA);
    const rootDn = `cn=admin,${options.suffix}`;
    const conf = [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      `include ${join(dir, 'test.schema')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload ppolicy',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      `TLSCertificateFile ${join(dir, 'cert.pem')}`,
      `TLSCertificateKeyFile ${join(dir, 'key.pem')}`,
      // OpenLDAP's default: at most 500 entries per search, paged or not, unless a limits rule says otherwise.
      'sizelimit 500',
      'database mdb',
      'maxsize 268435456',
      `suffix "${options.suffix}"`,
      `rootdn "${rootDn}"`,
      `rootpw ${options.rootPassword}`,
      `directory ${join(dir, 'db')}`,
      'index objectClass eq',
      'index uid,cn,sAMAccountName,sophomorixType,ucsschoolRole,ucsschoolSchool,mail eq',
      'index member,uniqueMember,owner eq',
      options.databaseConfig,
    ].join('\n');
    const confPath = join(dir, 'slapd.conf');
    await writeFile(confPath, `${conf}\n`);
    await writeFile(join(dir, 'data.ldif'), options.ldif);
    await run(SLAPADD, ['-q', '-f', confPath, '-l', join(dir, 'data.ldif')], { maxBuffer: 16 * 1024 * 1024 });
    const port = await freePort();
    const tlsPort = await freePort();
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
    const output: string[] = [];
    const started = spawn(SLAPD, ['-h', `${url}/ ${ldapsUrl}/`, '-f', confPath, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout.on('data', (d) => output.push(String(d)));
    started.stderr.on('data', (d) => output.push(String(d)));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port)) || !(await accepts(tlsPort))) {
      if (started.exitCode !== null) throw new Error(`slapd exited (${started.exitCode}): ${output.join('')}`);
      if (Date.now() > deadline) throw new Error(`slapd did not start: ${output.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const certificate = await readFile(join(dir, 'cert.pem'), 'utf8');
    return {
      url,
      ldapsUrl,
      rootDn,
      certificate,
      dir,
      stop: async () => {
        if (started.exitCode === null) {
          const exited = new Promise((r) => started.once('exit', r));
          started.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
          if (started.exitCode === null) started.kill('SIGKILL');
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
