import { msg, str } from '@lit/localize';
import type { GroupKind } from '../api/protocol.ts';
import { intlLocale } from '../i18n/locale.ts';
import { germanDateShort, germanDayDate, germanFullTime, germanTime, germanWeekday } from './german-dates.ts';

const DAY = 86_400_000;

function startOfDay(ts: number): number {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function dayKey(ts: number): number {
  return startOfDay(ts);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * One Intl.DateTimeFormat per locale and style, made once: creating one costs far more than formatting with it, and a
 * chat shows a time on every message (the web benchmark found a fifth of a throttled chat opening spent here).
 */
function formatter(style: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const locale = intlLocale();
  const key = `${locale}/${style}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, f);
  }
  return f;
}

/** German, the default, is formatted without Intl (`german-dates.ts`: no ICU data to load on a cold start). */
const german = () => intlLocale() === 'de-DE';

export function timeOf(ts: number): string {
  return german() ? germanTime(ts) : formatter('time', { hour: '2-digit', minute: '2-digit' }).format(ts);
}

/** "Heute", "Gestern", a weekday within the last week, else a date. */
export function dayLabel(ts: number, now = Date.now()): string {
  const diff = Math.round((startOfDay(now) - startOfDay(ts)) / DAY);
  if (diff === 0) return msg('Heute', { id: 'day.today' });
  if (diff === 1) return msg('Gestern', { id: 'day.yesterday' });
  if (diff > 1 && diff < 7) return german() ? germanWeekday(ts) : formatter('weekday', { weekday: 'long' }).format(ts);
  return german() ? germanDayDate(ts) : formatter('day', { weekday: 'long', day: 'numeric', month: 'long' }).format(ts);
}

/** The short time in the chat list: a time today, "Gestern", a weekday, or a date. */
export function listTime(ts: number, now = Date.now()): string {
  const diff = Math.round((startOfDay(now) - startOfDay(ts)) / DAY);
  if (diff === 0) return timeOf(ts);
  if (diff === 1) return msg('Gestern', { id: 'day.yesterday' });
  if (diff > 1 && diff < 7) return german() ? germanWeekday(ts, true) : formatter('weekday-short', { weekday: 'short' }).format(ts);
  return german() ? germanDateShort(ts) : formatter('date-short', { day: '2-digit', month: '2-digit', year: '2-digit' }).format(ts);
}

export function fullTime(ts: number): string {
  return german() ? germanFullTime(ts) : formatter('full', { dateStyle: 'full', timeStyle: 'short' }).format(ts);
}

export function initials(name: string): string {
  const parts = name
    .replace(/^(Frau|Herr|Fr\.|Hr\.)\s+/i, '')
    .split(/\s+/)
    .filter((p) => /\p{L}|\p{N}/u.test(p));
  if (parts.length === 0) return '?';
  const first = [...parts[0]!][0] ?? '';
  const second = parts.length > 1 ? ([...parts.at(-1)!][0] ?? '') : ([...parts[0]!][1] ?? '');
  return (first + second).toUpperCase();
}

/** Background colours for avatars: each dark enough for white initials (WCAG AA). */
const AVATAR_COLOURS = ['#0b6e63', '#1f5fa8', '#8a3ffc', '#b4237a', '#a14a00', '#2f6f1f', '#5a4fcf', '#a3243b', '#00607a'];
/** Author names in group chats: readable on white and on the own-bubble colour. */
const NAME_COLOURS = ['#0b6e63', '#1c5a9e', '#7a3bd6', '#a61f6f', '#8f4200', '#2b661c', '#4d44b8', '#a3243b', '#005a70'];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function avatarColour(key: string): string {
  return AVATAR_COLOURS[hash(key) % AVATAR_COLOURS.length]!;
}

export function nameColour(key: string): string {
  return NAME_COLOURS[hash(key) % NAME_COLOURS.length]!;
}

export function kindLabel(kind: GroupKind): string {
  switch (kind) {
    case 'class':
      return msg('Klasse', { id: 'kind.class' });
    case 'department':
      return msg('Fachschaft', { id: 'kind.department' });
    case 'club':
      return msg('AG', { id: 'kind.club' });
    case 'direct':
      return msg('Direktnachricht', { id: 'kind.direct' });
    case 'announcement':
      return msg('Ankündigungen', { id: 'kind.announcement' });
    default:
      return msg('Gruppe', { id: 'kind.custom' });
  }
}

export function roleLabel(role: string): string {
  switch (role) {
    case 'pupil':
      return msg('Schüler/in', { id: 'role.pupil' });
    case 'teacher':
      return msg('Lehrkraft', { id: 'role.teacher' });
    case 'parent':
      return msg('Elternteil', { id: 'role.parent' });
    case 'staff':
      return msg('Personal', { id: 'role.staff' });
    case 'admin':
      return msg('Schulleitung', { id: 'role.admin' });
    default:
      return role;
  }
}

export function membersLabel(n: number): string {
  return n === 1 ? msg('1 Mitglied', { id: 'chat.member-one' }) : msg(str`${n} Mitglieder`, { id: 'chat.members' });
}
