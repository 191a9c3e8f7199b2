/**
 * `npm start` (until the relay lands): a demo school in one process. Three devices (a teacher and two pupils)
 * each run the real engine with their own keys and store; they sync directly over in-memory channels with the
 * real protocol. A scripted conversation runs first; in a terminal you can then write as Ben.
 */
import '../test/setup/node-env.ts';
import { createInterface } from 'node:readline/promises';
import { Engine } from '@schoolmesh/engine';
import { TrustStore, createSchool, enrollDevice } from '@schoolmesh/identity';
import { accountRef } from '@schoolmesh/model';
import { MemoryStorage } from '@schoolmesh/storage';
import { memoryChannelPair } from '@schoolmesh/sync';
import { fromBase64Url } from '@schoolmesh/wire';

const now = Date.now();
const school = await createSchool('Gesamtschule Am Park', now);
const trust = () => {
  const t = new TrustStore(() => Date.now());
  t.addSchool(fromBase64Url(school.id), school.name);
  return t;
};
const people = [
  { account: 'schmidt', name: 'Frau Schmidt', role: 'teacher' as const },
  { account: 'ben', name: 'Ben', role: 'pupil' as const },
  { account: 'lea', name: 'Lea', role: 'pupil' as const },
];
const engines = new Map<string, Engine>();
const names = new Map<string, string>();
for (const p of people) {
  const identity = await enrollDevice(school, { account: p.account, displayName: p.name, role: p.role, now });
  engines.set(p.account, await Engine.open({ storage: new MemoryStorage(), identity, trust: trust() }));
  names.set(identity.id, p.name);
}
const teacher = engines.get('schmidt')!;
const ben = engines.get('ben')!;
const lea = engines.get('lea')!;

console.log(`\nSchoolmesh-Demo — ${school.name} (Schul-ID ${school.id.slice(0, 12)}…)`);
console.log('Drei Geräte mit eigenen Schlüsseln; Frau Schmidt verbindet sich direkt mit Ben und Lea.\n');

const group = await teacher.createGroup({
  kind: 'class',
  name: 'Klasse 7a',
  members: [
    { account: accountRef(school.id, 'ben'), role: 'member' },
    { account: accountRef(school.id, 'lea'), role: 'member' },
  ],
});
for (const pupil of [ben, lea]) {
  const [a, b] = memoryChannelPair();
  teacher.connect(a, { agent: 'demo' });
  pupil.connect(b, { agent: 'demo' });
}
const until = async (check: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 2000 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
};
await until(() => ben.canRead(group) && lea.canRead(group));
await Promise.all([teacher.idle(), ben.idle(), lea.idle()]);

// Lea's view: print every new message as it arrives on her device.
const shown = new Set<string>();
const time = (ts: number) => new Date(ts).toLocaleTimeString('de-DE', { hour: '2-digit', minute: '2-digit' });
async function showNew(): Promise<void> {
  for (const m of await lea.messages(group)) {
    if (shown.has(m.key)) continue;
    shown.add(m.key);
    console.log(`  [Lea sieht] ${time(m.ts)}  ${names.get(m.author ?? '') ?? '?'}: ${m.text}`);
  }
}
lea.on((e) => {
  if (e.type === 'messages' && e.group === group) void showNew();
});

const say = async (who: Engine, text: string) => {
  const posted = await who.post(group, { text });
  await posted.acked;
};
await say(teacher, 'Guten Morgen, 7a! Denkt an die Mathe-Hausaufgaben, Seite 42.');
await say(ben, 'Morgen Frau Schmidt! Bis wann genau?');
await say(teacher, 'Bis Donnerstag. Und morgen fällt die 6. Stunde aus.');
await until(async () => (await lea.messages(group)).length >= 3);
await showNew();

const state = teacher.state(group)!;
console.log(`\nGruppe „${state.name}“: ${state.members.size} Mitglieder, ${state.devices.size} Geräte, Schlüssel-Epoche ${state.currentEpoch?.slice(0, 8)}…`);
console.log(`Aufbewahrung: Nachrichten werden nach ${state.policy.retentionDays} Tagen gelöscht.`);

if (process.stdin.isTTY) {
  console.log('\nSchreib als Ben (Enter sendet, leere Zeile beendet):');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  for (;;) {
    const line = (await rl.question('Ben> ')).trim();
    if (!line) break;
    await say(ben, line);
    await until(async () => (await lea.messages(group)).some((m) => m.text === line));
    await showNew();
  }
  rl.close();
} else {
  console.log('\n(Kein Terminal: Demo endet hier. In einem Terminal kannst du als Ben weiterschreiben.)');
}
for (const e of engines.values()) await e.close();
