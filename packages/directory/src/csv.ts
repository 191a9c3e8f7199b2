/**
 * CSV import, the fallback for schools without LDAP: semicolon-separated (what German Excel writes), UTF-8 with
 * or without BOM, quoted fields with "" for a quote and line breaks inside quotes. All or nothing: either the
 * whole file becomes a directory, or every problem is reported with its line and nothing is imported.
 */
import type { Role } from '@schoolmesh/model';
import { ACCOUNT_ID, type Directory, type PersonInput, buildDirectory } from './model.ts';

export interface CsvProblem {
  /** 1-based line in the file (where the record starts). */
  line: number;
  message: string;
}

export type CsvImport = { ok: true; directory: Directory; rows: number } | { ok: false; problems: CsvProblem[] };

export interface CsvOptions {
  schoolYear?: string;
  /** Stop collecting after this many problems (default 200). */
  maxProblems?: number;
}

type Column = 'id' | 'givenName' | 'surname' | 'displayName' | 'role' | 'class' | 'classTeacherOf' | 'departments' | 'clubs' | 'children' | 'locked';

/** Header names, German and English, compared case-insensitively without spaces, dots, dashes and underscores. */
const HEADERS: Record<string, Column> = {};
const alias = (column: Column, ...names: string[]) => {
  for (const n of names) HEADERS[n] = column;
};
alias('id', 'id', 'benutzername', 'benutzer', 'username', 'user', 'login', 'uid', 'kennung', 'account');
alias('givenName', 'vorname', 'givenname', 'firstname');
alias('surname', 'nachname', 'familienname', 'surname', 'lastname', 'sn');
alias('displayName', 'anzeigename', 'displayname');
alias('role', 'rolle', 'role', 'typ');
alias('class', 'klasse', 'class');
alias('classTeacherOf', 'klassenleitung', 'klassenlehrer', 'klassenlehrerin', 'classteacherof', 'classteacher');
alias('departments', 'fachschaften', 'fachschaft', 'faecher', 'fächer', 'departments', 'department');
alias('clubs', 'ags', 'ag', 'arbeitsgemeinschaften', 'clubs', 'club');
alias('children', 'kinder', 'kind', 'children', 'child');
alias('locked', 'gesperrt', 'locked', 'disabled');

const ROLES: Record<string, Role> = {};
const role = (r: Role, ...names: string[]) => {
  for (const n of names) ROLES[n] = r;
};
role('pupil', 'schüler', 'schülerin', 'schueler', 'schuelerin', 'schüler*in', 'pupil', 'student');
role('teacher', 'lehrer', 'lehrerin', 'lehrkraft', 'lehrer*in', 'teacher');
role('parent', 'eltern', 'elternteil', 'erziehungsberechtigt', 'erziehungsberechtigte', 'erziehungsberechtigter', 'parent', 'guardian');
role('staff', 'personal', 'mitarbeiter', 'mitarbeiterin', 'verwaltung', 'sekretariat', 'staff');
role('admin', 'admin', 'administrator', 'administratorin', 'administration');

const YES = new Set(['ja', 'j', 'yes', 'y', 'true', 'wahr', '1', 'x']);
const NO = new Set(['', 'nein', 'n', 'no', 'false', 'falsch', '0']);
const MAX_FIELD = 1000;
const MAX_BYTES = 32 * 1024 * 1024;

const headerKey = (h: string) => h.normalize('NFC').toLowerCase().replace(/[\s._-]/g, '');
const list = (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Splits CSV text into records (RFC 4180 rules with a configurable separator). Total: malformed quoting is a
 * problem on its line, never an exception.
 */
export function parseCsv(text: string, separator = ';'): { records: CsvRecord[]; problems: CsvProblem[] } {
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let broken = false;
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (!closed) {
          problems.push({ line: quoteLine, message: 'a quoted field is not closed (a missing ")' });
          return { records, problems };
        }
        if (i < n && text[i] !== separator && text[i] !== '\n' && text[i] !== '\r') {
          problems.push({ line, message: 'text after a closing quote; write "" for a quote inside a quoted field' });
          broken = true;
          while (i < n && text[i] !== '\n') i++;
        }
      } else {
        while (i < n && text[i] !== separator && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"' && !broken) {
            problems.push({ line, message: 'a quote inside an unquoted field; put the field in quotes and write "" for the quote' });
            broken = true;
          }
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (i < n && text[i] === separator) {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    if (!broken) records.push({ line: start, fields });
  }
  return { records, problems };
}

/** Decodes bytes as UTF-8 (strictly: a Windows-1252 export is refused with a hint, not turned into mojibake). */
export function decodeCsvBytes(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
}

/**
 * Imports a directory from CSV. One row per person; columns (German or English header names, any order):
 * Benutzername/id, Vorname, Nachname, Anzeigename, Rolle, Klasse (pupils), Klassenleitung (teachers: classes they
 * lead), Fachschaften, AGs, Kinder (parents: ids of their children), Gesperrt. Lists inside a field are
 * comma-separated. In AGs, teachers and staff lead; in Fachschaften, everybody is a member.
 */
export function importCsv(input: string | Uint8Array, options: CsvOptions = {}): CsvImport {
  const maxProblems = options.maxProblems ?? 200;
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    if (input.length > MAX_BYTES) return { ok: false, problems: [{ line: 1, message: `the file is larger than ${MAX_BYTES / 1024 / 1024} MiB` }] };
    try {
      text = decodeCsvBytes(input);
    } catch {
      return { ok: false, problems: [{ line: lineOfBadUtf8(input), message: 'not UTF-8: save the file as "CSV UTF-8 (durch Trennzeichen getrennt)"' }] };
    }
  }
  const parsed = parseCsv(text);
  const problems: CsvProblem[] = [];
  const rows = parsed.records.filter((r) => r.fields.some((f) => f.trim() !== ''));
  const header = rows.shift();
  if (!header) return { ok: false, problems: parsed.problems.length > 0 ? parsed.problems : [{ line: 1, message: 'the file is empty' }] };
  const columns: (Column | undefined)[] = [];
  const seen = new Map<Column, string>();
  for (const raw of header.fields) {
    const name = raw.trim();
    const column = HEADERS[headerKey(name)];
    if (!column) problems.push({ line: header.line, message: `unknown column "${name}"` });
    else if (seen.has(column)) problems.push({ line: header.line, message: `column "${name}" twice (also "${seen.get(column)}")` });
    else seen.set(column, name);
    columns.push(column);
  }
  for (const required of ['id', 'role'] as const) {
    if (!seen.has(required)) problems.push({ line: header.line, message: `the column "${required === 'id' ? 'Benutzername' : 'Rolle'}" is missing` });
  }
  if (problems.length > 0) return { ok: false, problems: [...problems, ...parsed.problems].sort((a, b) => a.line - b.line) };
  problems.push(...parsed.problems);

  const people: PersonInput[] = [];
  const lineOf = new Map<string, number>();
  const childRefs: { line: number; id: string; children: string[] }[] = [];
  for (const row of rows) {
    if (problems.length >= maxProblems) break;
    const problem = (message: string) => problems.push({ line: row.line, message });
    if (row.fields.length !== columns.length) {
      problem(`${row.fields.length} fields, the header has ${columns.length} (a missing or extra ";"?)`);
      continue;
    }
    const get = (c: Column) => {
      const at = columns.indexOf(c);
      return at < 0 ? '' : row.fields[at]!.normalize('NFC').trim();
    };
    const tooLong = row.fields.findIndex((f) => f.length > MAX_FIELD);
    if (tooLong >= 0) {
      problem(`field "${header.fields[tooLong]!.trim()}" is longer than ${MAX_FIELD} characters`);
      continue;
    }
    const id = get('id');
    const r = ROLES[get('role').toLowerCase()];
    const before = problems.length;
    if (!id) problem('the user name is empty');
    else if (!ACCOUNT_ID.test(id)) problem(`user name "${id}": 1–64 letters, digits, ".", "_" or "-"`);
    else if (lineOf.has(id)) problem(`user name "${id}" is already on line ${lineOf.get(id)}`);
    if (!get('role')) problem('the role is empty');
    else if (!r) problem(`unknown role "${get('role')}" (Schüler, Lehrer, Eltern, Personal or Admin)`);
    const klass = get('class');
    const leads = list(get('classTeacherOf'));
    const children = list(get('children'));
    const lockedText = get('locked').toLowerCase();
    if (r === 'pupil' && !klass) problem('a pupil needs a class');
    if (r && r !== 'pupil' && klass) problem('"Klasse" is for pupils; class teachers go in "Klassenleitung"');
    if ((r === 'pupil' || r === 'parent') && leads.length > 0) problem('only teachers and staff lead a class');
    if (r && r !== 'parent' && children.length > 0) problem('"Kinder" is for parents');
    if (!YES.has(lockedText) && !NO.has(lockedText)) problem(`"Gesperrt" is "ja" or "nein", not "${get('locked')}"`);
    if (problems.length > before || !r) continue;
    lineOf.set(id, row.line);
    const person: PersonInput = {
      id,
      givenName: get('givenName'),
      surname: get('surname'),
      role: r,
      departments: list(get('departments')),
      clubs: list(get('clubs')),
      locked: YES.has(lockedText),
    };
    if (get('displayName')) person.displayName = get('displayName');
    if (klass) person.class = klass;
    if (leads.length > 0) person.classTeacherOf = leads;
    if (children.length > 0) {
      person.children = children;
      childRefs.push({ line: row.line, id, children });
    }
    people.push(person);
  }
  for (const ref of childRefs) {
    for (const child of ref.children) {
      if (child === ref.id) problems.push({ line: ref.line, message: 'a person cannot be their own child' });
      else if (!lineOf.has(child)) problems.push({ line: ref.line, message: `child "${child}" is not in the file` });
    }
  }
  if (problems.length > 0) return { ok: false, problems: problems.sort((a, b) => a.line - b.line).slice(0, maxProblems) };

  // AGs: teachers and staff lead them.
  const leaders = new Map<string, string[]>();
  for (const p of people) {
    if (p.role !== 'teacher' && p.role !== 'staff' && p.role !== 'admin') continue;
    for (const c of p.clubs ?? []) leaders.set(c, [...(leaders.get(c) ?? []), p.id]);
  }
  const input2 = { people, clubs: [...leaders].map(([name, ids]) => ({ name, leaders: ids })), ...(options.schoolYear ? { schoolYear: options.schoolYear } : {}) };
  const { directory, problems: left } = buildDirectory(input2);
  if (left.length > 0) return { ok: false, problems: left.map((message) => ({ line: 1, message })) };
  return { ok: true, directory, rows: people.length };
}

function lineOfBadUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return 1;
}
