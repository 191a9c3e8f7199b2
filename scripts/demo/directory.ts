/**
 * The demo schools' directories: German names, classes, departments and clubs, as a school's LDAP would give
 * them (the directory issue imports real ones). Plain data.
 */
import type { GroupKind, GroupRole, Role } from '@schoolmesh/model';

export interface DemoPerson {
  account: string;
  name: string;
  role: Role;
}

export interface DemoGroup {
  name: string;
  kind: GroupKind;
  /** The account whose device creates the group (its owner; a teacher or the head). */
  owner: string;
  members: { account: string; role: GroupRole; school?: 'partner' }[];
  welcome: string;
}

export interface DemoSchool {
  name: string;
  people: DemoPerson[];
  groups: DemoGroup[];
}

const m = (account: string, role: GroupRole = 'member') => ({ account, role });

export const amPark: DemoSchool = {
  name: 'Gesamtschule Am Park',
  people: [
    { account: 'becker', name: 'Herr Becker (Schulleitung)', role: 'admin' },
    { account: 'schmidt', name: 'Frau Schmidt', role: 'teacher' },
    { account: 'yilmaz', name: 'Herr Yılmaz', role: 'teacher' },
    { account: 'nowak', name: 'Frau Nowak', role: 'teacher' },
    { account: 'braun', name: 'Frau Braun (Sekretariat)', role: 'staff' },
    { account: 'ben.mueller', name: 'Ben Müller', role: 'pupil' },
    { account: 'lea.schneider', name: 'Lea Schneider', role: 'pupil' },
    { account: 'finn.wagner', name: 'Finn Wagner', role: 'pupil' },
    { account: 'emma.fischer', name: 'Emma Fischer', role: 'pupil' },
    { account: 'noah.weber', name: 'Noah Weber', role: 'pupil' },
    { account: 'mia.hoffmann', name: 'Mia Hoffmann', role: 'pupil' },
    { account: 'elias.schaefer', name: 'Elias Schäfer', role: 'pupil' },
    { account: 'hannah.koch', name: 'Hannah Koch', role: 'pupil' },
    { account: 'paul.richter', name: 'Paul Richter', role: 'pupil' },
    { account: 'sophie.klein', name: 'Sophie Klein', role: 'pupil' },
    { account: 'p.mueller', name: 'Petra Müller (Mutter von Ben)', role: 'parent' },
    { account: 't.schneider', name: 'Thomas Schneider (Vater von Lea)', role: 'parent' },
    { account: 'a.weber', name: 'Aylin Weber (Mutter von Noah)', role: 'parent' },
  ],
  groups: [
    {
      name: 'Klasse 7a',
      kind: 'class',
      owner: 'schmidt',
      members: [m('yilmaz', 'moderator'), m('ben.mueller'), m('lea.schneider'), m('finn.wagner'), m('emma.fischer')],
      welcome: 'Willkommen in der Klassengruppe der 7a! Hausaufgaben und Termine kommen hier rein.',
    },
    {
      name: 'Klasse 7b',
      kind: 'class',
      owner: 'yilmaz',
      members: [m('noah.weber'), m('mia.hoffmann'), m('elias.schaefer'), m('hannah.koch')],
      welcome: 'Hallo 7b! Denkt an die Leseliste bis Freitag.',
    },
    {
      name: 'Klasse 5a',
      kind: 'class',
      owner: 'nowak',
      members: [m('paul.richter'), m('sophie.klein')],
      welcome: 'Herzlich willkommen an der Gesamtschule Am Park, liebe 5a!',
    },
    {
      name: 'Eltern 7a',
      kind: 'custom',
      owner: 'schmidt',
      members: [m('p.mueller'), m('t.schneider')],
      welcome: 'Liebe Eltern der 7a, der Elternabend ist am 3. Dezember um 19 Uhr.',
    },
    {
      name: 'Fachschaft Mathematik',
      kind: 'department',
      owner: 'schmidt',
      members: [m('nowak', 'moderator')],
      welcome: 'Die Vergleichsarbeit Klasse 7 liegt im Fachschaftsordner.',
    },
    {
      name: 'Theater-AG',
      kind: 'club',
      owner: 'nowak',
      members: [m('lea.schneider'), m('mia.hoffmann'), m('sophie.klein'), m('hannah.koch')],
      welcome: 'Probe am Mittwoch in der Aula, 14:30 Uhr!',
    },
    {
      name: 'Mitteilungen der Schulleitung',
      kind: 'announcement',
      owner: 'becker',
      members: [
        m('schmidt', 'moderator'),
        m('yilmaz', 'moderator'),
        m('nowak', 'moderator'),
        m('braun', 'moderator'),
        m('p.mueller'),
        m('t.schneider'),
        m('a.weber'),
      ],
      welcome: 'Am Freitag endet der Unterricht wegen der Zeugniskonferenz nach der 4. Stunde.',
    },
  ],
};

export const amHafen: DemoSchool = {
  name: 'Realschule Am Hafen',
  people: [
    { account: 'krause', name: 'Herr Krause', role: 'teacher' },
    { account: 'jonas.berg', name: 'Jonas Berg', role: 'pupil' },
    { account: 'lina.vogel', name: 'Lina Vogel', role: 'pupil' },
    { account: 'can.oezdemir', name: 'Can Özdemir', role: 'pupil' },
  ],
  groups: [
    {
      name: 'Klasse 8c',
      kind: 'class',
      owner: 'krause',
      members: [m('jonas.berg'), m('lina.vogel'), m('can.oezdemir')],
      welcome: 'Moin 8c! Hier gibt es alles zur Klassenfahrt.',
    },
  ],
};

/** The group that spans both demo schools (federated variant): created at Am Park, with members of Am Hafen. */
export const robotik: DemoGroup = {
  name: 'Robotik-AG (Am Park + Am Hafen)',
  kind: 'club',
  owner: 'nowak',
  members: [m('finn.wagner'), m('noah.weber'), { account: 'krause', role: 'moderator', school: 'partner' }, { account: 'jonas.berg', role: 'member', school: 'partner' }, { account: 'lina.vogel', role: 'member', school: 'partner' }],
  welcome: 'Erstes gemeinsames Treffen per Video am Dienstag — beide Schulen sind dabei!',
};

/** Teachers and heads whose devices the demo runs, so that groups exist and keys reach newly enrolled devices. */
export function staffDevices(school: DemoSchool, extra: DemoGroup[] = []): string[] {
  return [...new Set([...school.groups, ...extra].map((g) => g.owner).filter((o) => school.people.some((p) => p.account === o)))];
}
