/**
 * `npm start`: a demo school on this machine. Creates (once) the school's keys and a demo directory in
 * `.data/demo/`, starts the relay (embedded store, web app, enrollment) and the devices of the teachers who own
 * the demo groups, and prints the URL and one-time sign-in codes. `npm start -- --federated` starts a second
 * school whose relay federates with the first on loopback, and a club spanning both.
 */
import '@schoolmesh/net-libp2p/node-polyfills';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { enroll, renewIfDue, trustFor } from '@schoolmesh/client';
import { type RelayConnection, connectToRelay } from '@schoolmesh/client/node';
import { Engine } from '@schoolmesh/engine';
import { type DeviceIdentity, decodeDeviceIdentity, encodeDeviceIdentity } from '@schoolmesh/identity';
import { accountRef } from '@schoolmesh/model';
import { peerIdOfKey } from '@schoolmesh/net-libp2p';
import { Relay, type RelayKeys, initSchool, isInitialized, loadRelayKeys, parseConfig } from '@schoolmesh/relay';
import { openLevelStorage } from '@schoolmesh/storage-level';
import { pino } from 'pino';
import { type DemoGroup, type DemoSchool, amHafen, amPark, robotik, staffDevices } from './demo/directory.ts';

const ROLE_DE = { pupil: 'Schüler/in', teacher: 'Lehrkraft', parent: 'Elternteil', staff: 'Personal', admin: 'Schulleitung' } as const;
const federated = process.argv.includes('--federated');
const basePort = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(basePort) || basePort <= 0 || basePort > 65_000) throw new Error(`PORT=${process.env.PORT} is not a usable port`);
const root = resolve(import.meta.dirname, '..');
const webRoot = join(root, 'web', 'dist');
/** Where the demo keeps its schools (SCHOOLMESH_DEMO_DIR overrides it, for tests). */
const demoDir = process.env.SCHOOLMESH_DEMO_DIR ? resolve(process.env.SCHOOLMESH_DEMO_DIR) : join(root, '.data', 'demo');

interface Running {
  demo: DemoSchool;
  dir: string;
  keys: RelayKeys;
  relay: Relay;
  engines: Map<string, Engine>;
  links: RelayConnection[];
}

const schools: { demo: DemoSchool; dir: string; ports: [number, number, number]; extraGroups: DemoGroup[] }[] = [
  { demo: amPark, dir: join(demoDir, 'am-park'), ports: [basePort, basePort + 1, basePort + 2], extraGroups: federated ? [robotik] : [] },
];
if (federated) schools.push({ demo: amHafen, dir: join(demoDir, 'am-hafen'), ports: [basePort + 10, basePort + 11, basePort + 12], extraGroups: [] });

// Keys first (each relay's config names its partner's root key and peer id).
const keys = new Map<string, RelayKeys>();
for (const s of schools) {
  if (!(await isInitialized(s.dir))) await initSchool(s.dir, s.demo.name);
  keys.set(s.dir, await loadRelayKeys(s.dir));
}

const running: Running[] = [];
for (const s of schools) {
  const k = keys.get(s.dir)!;
  const partners = schools
    .filter((p) => p !== s)
    .map((p) => {
      const pk = keys.get(p.dir)!;
      return { name: p.demo.name, root: pk.schoolId, addrs: [`/ip4/127.0.0.1/tcp/${p.ports[1]}/p2p/${peerIdOfKey(pk.authority.publicKey)}`] };
    });
  const config = parseConfig(
    {
      dataDir: s.dir,
      host: '127.0.0.1',
      httpPort: s.ports[0],
      tcpPort: s.ports[1],
      wsPort: s.ports[2],
      ...(existsSync(join(webRoot, 'index.html')) ? { webRoot } : {}),
      federation: { partners },
    },
    // PORT is handled above (each school has its own ports).
    { ...process.env, PORT: undefined },
  );
  const logger = pino({ level: 'info', base: { school: k.schoolName } }, pino.destination({ dest: join(s.dir, 'relay.log'), mkdir: true, sync: false }));
  const relay = await Relay.start(config, { logger });
  running.push({ demo: s.demo, dir: s.dir, keys: k, relay, engines: new Map(), links: [] });
}

const schoolIdOf = (r: Running) => r.keys.schoolId;
const partnerOf = (r: Running) => running.find((o) => o !== r);

/** A staff device of the demo: enrolled once over HTTP with a one-time code, then kept in the demo directory. */
async function staffDevice(r: Running, account: string): Promise<Engine> {
  const dir = join(r.dir, 'demo-devices', account);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'identity');
  let identity: DeviceIdentity;
  if (existsSync(file)) {
    identity = await decodeDeviceIdentity(await readFile(file));
    if (Date.now() >= identity.certificate.notAfter)
      throw new Error(`the demo device of ${account} has expired (unused for over 30 days): delete ${r.dir} and start again`);
    // Renewed like any device when less than a third of its validity is left; listed in its groups once the engine runs.
    const renewed = await renewIfDue(r.relay.httpUrl(), identity);
    if (renewed) {
      identity = renewed;
      await writeFile(file, encodeDeviceIdentity(identity), { mode: 0o600 });
    }
  } else {
    const person = r.demo.people.find((p) => p.account === account)!;
    const { code } = await r.relay.enrollment.issueCode({ account, displayName: person.name, role: person.role });
    identity = (await enroll(r.relay.httpUrl(), { code })).identity;
    await writeFile(file, encodeDeviceIdentity(identity), { mode: 0o600 });
  }
  const info = { school: { id: r.keys.schoolId, name: r.keys.schoolName, root: r.keys.schoolId }, partners: running.filter((o) => o !== r).map((o) => ({ name: o.keys.schoolName, root: o.keys.schoolId })), relay: r.relay.addresses() };
  const engine = await Engine.open({ storage: await openLevelStorage(join(dir, 'store')), identity, trust: trustFor(info) });
  const link = await connectToRelay(engine, identity, info.relay, { loopbackOnly: true, onState: (st, d) => process.env.DEMO_DEBUG && console.log('link', account, st, d) });
  r.links.push(link);
  await link.link.caughtUp();
  // A renewed certificate is listed in the groups that still list the old one (nothing happens otherwise).
  await engine.renewIdentity(identity);
  return engine;
}

for (const r of running) {
  const s = schools.find((x) => x.dir === r.dir)!;
  for (const account of staffDevices(r.demo, s.extraGroups)) r.engines.set(account, await staffDevice(r, account));
}

// The demo groups, created once by their owners' devices.
for (const r of running) {
  const s = schools.find((x) => x.dir === r.dir)!;
  const stateFile = join(r.dir, 'demo-groups.json');
  const created: Record<string, string> = existsSync(stateFile) ? JSON.parse(await readFile(stateFile, 'utf8')) : {};
  for (const g of [...r.demo.groups, ...s.extraGroups]) {
    if (created[g.name]) continue;
    const engine = r.engines.get(g.owner)!;
    const members = g.members.map((mb) => ({ account: accountRef(mb.school === 'partner' ? schoolIdOf(partnerOf(r)!) : schoolIdOf(r), mb.account), role: mb.role }));
    const id = await engine.createGroup({ kind: g.kind, name: g.name, members });
    await (await engine.post(id, { text: g.welcome })).acked;
    created[g.name] = id;
  }
  await writeFile(stateFile, JSON.stringify(created, null, 2));
}

// Fresh one-time sign-in codes for everyone (a code is used up by the device that redeems it).
const lines: string[] = [];
for (const r of running) {
  lines.push('', `${r.keys.schoolName} — ${r.relay.httpUrl()}`, '');
  lines.push(`  ${'Name'.padEnd(34)} ${'Rolle'.padEnd(12)} Anmeldecode`);
  for (const p of r.demo.people) {
    const { code } = await r.relay.enrollment.issueCode({ account: p.account, displayName: p.name, role: p.role });
    lines.push(`  ${p.name.padEnd(34)} ${ROLE_DE[p.role].padEnd(12)} ${code}`);
  }
}
const codesFile = join(demoDir, 'codes.txt');
await writeFile(codesFile, `${lines.join('\n')}\n`);

const first = running[0]!;
console.log(`
Schoolmesh-Demo läuft.

  Öffnen Sie ${first.relay.httpUrl()}  (PORT=… ändert den Port)
  ${running.length > 1 ? `Partnerschule: ${running[1]!.relay.httpUrl()} (föderiert über libp2p auf 127.0.0.1)\n  ` : ''}Anmeldecodes (einmalig gültig, auch in ${codesFile}):
${lines.join('\n')}

  Daten: ${demoDir} (löschen setzt die Demo zurück) · Relay-Protokoll: ${join(first.dir, 'relay.log')}
  Gesundheit: ${first.relay.httpUrl()}/healthz · Metriken: ${first.relay.httpUrl()}/metrics
  ${process.stdin.isTTY ? 'Tippen Sie eine Zeile, um als Frau Schmidt in „Klasse 7a“ zu schreiben. ' : ''}Strg+C beendet.
`);

// Show what arrives in the demo groups, as the owners' devices see it.
const names = new Map<string, string>();
for (const r of running) for (const p of r.demo.people) names.set(accountRef(r.keys.schoolId, p.account), p.name);
for (const r of running) {
  for (const [account, engine] of r.engines) {
    const me = accountRef(r.keys.schoolId, account);
    const seen = new Set<string>();
    for (const g of engine.groups()) for (const msg of await engine.messages(g.id)) seen.add(msg.key);
    engine.on((e) => {
      if (e.type !== 'messages') return;
      void engine.messages(e.group, e.bucket).then((msgs) => {
        const state = engine.state(e.group);
        if (state?.members.get(me) !== 'owner') return;
        for (const msg of msgs) {
          if (seen.has(msg.key)) continue;
          seen.add(msg.key);
          const author = msg.author ? state.devices.get(msg.author)?.account : undefined;
          if (author === me) continue;
          console.log(`[${state.name}] ${names.get(author ?? '') ?? author ?? '?'}: ${msg.text}`);
        }
      });
    });
  }
}

const schmidt = first.engines.get('schmidt')!;
const klasse7a = JSON.parse(await readFile(join(first.dir, 'demo-groups.json'), 'utf8'))['Klasse 7a'] as string;
if (process.stdin.isTTY) {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) void schmidt.post(klasse7a, { text: line.trim() }).catch((error: Error) => console.error(`nicht gesendet: ${error.message}`));
  });
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nDemo wird beendet …');
  for (const r of running) {
    for (const l of r.links) await l.stop();
    for (const e of r.engines.values()) await e.close();
    await r.relay.stop();
  }
  process.exit(0);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
