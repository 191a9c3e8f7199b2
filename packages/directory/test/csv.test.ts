import { describe, expect, it } from 'vitest';
import { importCsv, parseCsv } from '../src/index.ts';

const utf8 = new TextEncoder();
const HEADER = 'Benutzername;Vorname;Nachname;Rolle;Klasse;Klassenleitung;Fachschaften;AGs;Kinder;Gesperrt';

function ok(text: string | Uint8Array) {
  const result = importCsv(text, { schoolYear: '2026/27' });
  if (!result.ok) throw new Error(`expected an import, got ${JSON.stringify(result.problems)}`);
  return result;
}

function problems(text: string | Uint8Array) {
  const result = importCsv(text);
  if (result.ok) throw new Error('expected problems, got an import');
  return result.problems;
}

describe('CSV parsing', () => {
  it('splits on semicolons, keeps quoted semicolons, doubled quotes and line breaks, reports the starting line', () => {
    const { records, problems } = parseCsv('a;b;c\r\n"x;y";"sagt ""hallo""";"zwei\nZeilen"\n\nletzte;;\n');
    expect(problems).toEqual([]);
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['x;y', 'sagt "hallo"', 'zwei\nZeilen'] },
      { line: 4, fields: [''] },
      { line: 5, fields: ['letzte', '', ''] },
    ]);
  });

  it('reports broken quoting on its line and never throws', () => {
    expect(parseCsv('a;b\n"offen;b\nc;d').problems).toEqual([{ line: 2, message: expect.stringMatching(/not closed/) }]);
    expect(parseCsv('a;b\nx"y;z\n"ok"x;1\nfine;2').problems.map((p) => p.line)).toEqual([2, 3]);
    expect(parseCsv('a;b\nx"y;z\nfine;2').records.map((r) => r.line)).toEqual([1, 3]);
  });
});

describe('CSV import', () => {
  const file = [
    HEADER,
    'schmidt;Anna;Schmidt;Lehrerin;;7a;Mathematik,Physik;Theater-AG;;',
    'mueller.joerg;Jörg;"Müller; Jr.";Schüler;7a;;;Theater-AG;;nein',
    'oezdemir;Ayşe;Özdemir-Groß;Schülerin;7a;;;;;',
    'eltern.mueller;Petra;Müller;Eltern;;;;;mueller.joerg;',
    'gesperrt;Karl;Sperr;Lehrer;;;Mathematik;;;ja',
  ].join('\r\n');

  it('imports a file with umlauts and ß, with or without BOM, from text or UTF-8 bytes: the same directory', () => {
    const a = ok(file);
    expect(a.rows).toBe(5);
    expect(ok(`\uFEFF${file}`).directory).toEqual(a.directory);
    expect(ok(utf8.encode(`\uFEFF${file}`)).directory).toEqual(a.directory);
    expect(ok(utf8.encode(file)).directory).toEqual(a.directory);
    const d = a.directory;
    expect(d.schoolYear).toBe('2026/27');
    expect(d.people.find((p) => p.id === 'mueller.joerg')).toMatchObject({ givenName: 'Jörg', surname: 'Müller; Jr.', displayName: 'Jörg Müller; Jr.', role: 'pupil', class: '7a', groups: ['Theater-AG'], locked: false });
    expect(d.people.find((p) => p.id === 'eltern.mueller')).toMatchObject({ role: 'parent', children: ['mueller.joerg'] });
    expect(d.people.find((p) => p.id === 'gesperrt')!.locked).toBe(true);
    expect(d.classes).toEqual([{ name: '7a', teachers: ['schmidt'] }]);
    expect(d.departments).toEqual([
      { id: 'Mathematik', name: 'Mathematik', members: ['gesperrt', 'schmidt'], heads: [] },
      { id: 'Physik', name: 'Physik', members: ['schmidt'], heads: [] },
    ]);
    expect(d.clubs).toEqual([{ id: 'Theater-AG', name: 'Theater-AG', members: ['mueller.joerg', 'schmidt'], leaders: ['schmidt'] }]);
  });

  it('accepts English headers in any order and ignores blank rows', () => {
    const d = ok('role;id;class;givenName;surname\npupil;ben;5a;Ben;B\n;;;;\n\nteacher;t;;T;T\n').directory;
    expect(d.people.map((p) => `${p.id}:${p.role}`)).toEqual(['ben:pupil', 't:teacher']);
  });

  it('reports every problem with its line and imports nothing', () => {
    const bad = [
      HEADER,
      'ok;A;A;Schüler;5a;;;;;',
      ';B;B;Schüler;5a;;;;;', // 3: no user name
      'ok;C;C;Schüler;5a;;;;;', // 4: duplicate
      'x;D;D;Hausmeister;;;;;;', // 5: unknown role
      'y;E;E;Schüler;;;;;;', // 6: pupil without class
      'z;F;F;Lehrer;5a;;;;;', // 7: teacher with "Klasse"
      'p;G;G;Eltern;;;;;ghost;', // 8: unknown child
      'q;H;H;Schüler;5a;;;;', // 9: field count
      '*)(uid=*;I;I;Schüler;5a;;;;;', // 10: not a user name
      'w;J;J;Schüler;5a;;;;;vielleicht', // 11: locked
      'v;"K"x;K;Schüler;5a;;;;;', // 12: broken quoting
    ].join('\n');
    const found = problems(bad);
    expect(found.map((p) => p.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(found[1]!.message).toMatch(/already on line 2/);
    expect(found[5]!.message).toMatch(/ghost/);
    expect(found[6]!.message).toMatch(/9 fields, the header has 10/);
  });

  it('refuses unknown or missing columns, an empty file and non-UTF-8 bytes', () => {
    expect(problems('Benutzername;Rolle;Klase\nx;Schüler;5a')).toEqual([{ line: 1, message: 'unknown column "Klase"' }]);
    expect(problems('Vorname;Nachname\nA;B').map((p) => p.message)).toEqual(['the column "Benutzername" is missing', 'the column "Rolle" is missing']);
    expect(problems('\uFEFF\n\n')).toEqual([{ line: 1, message: 'the file is empty' }]);
    // "Jörg" in Windows-1252 on line 2.
    const latin1 = Uint8Array.from([...utf8.encode('Benutzername;Rolle;Vorname;Klasse\nj;Schüler;J'), 0xf6, ...utf8.encode('rg;5a\n')]);
    const [p] = problems(latin1);
    expect(p!.message).toMatch(/not UTF-8/);
    expect(p!.line).toBe(2);
  });
});
