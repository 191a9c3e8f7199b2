/**
 * The app's date and time formats in German, made without Intl: the first Intl.DateTimeFormat of a page loads ICU
 * data, which the web benchmark found to cost a fifth of a second of a throttled cold start before the chat list's
 * first times could show. Each function gives exactly what Intl.DateTimeFormat('de-DE', …) gives for the options
 * named (web/test/german-dates.test.ts compares them), in the browser's time zone.
 */

const WEEKDAYS = ['Sonntag', 'Montag', 'Dienstag', 'Mittwoch', 'Donnerstag', 'Freitag', 'Samstag'];
const WEEKDAYS_SHORT = ['So', 'Mo', 'Di', 'Mi', 'Do', 'Fr', 'Sa'];
const MONTHS = ['Januar', 'Februar', 'März', 'April', 'Mai', 'Juni', 'Juli', 'August', 'September', 'Oktober', 'November', 'Dezember'];

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** `{ hour: '2-digit', minute: '2-digit' }`: "07:05". */
export function germanTime(ts: number): string {
  const d = new Date(ts);
  return `${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** `{ weekday: 'long' }` ("Montag") or `{ weekday: 'short' }` ("Mo"). */
export function germanWeekday(ts: number, short = false): string {
  return (short ? WEEKDAYS_SHORT : WEEKDAYS)[new Date(ts).getDay()]!;
}

/** `{ day: '2-digit', month: '2-digit', year: '2-digit' }`: "03.11.26". */
export function germanDateShort(ts: number): string {
  const d = new Date(ts);
  return `${two(d.getDate())}.${two(d.getMonth() + 1)}.${two(d.getFullYear() % 100)}`;
}

/** `{ weekday: 'long', day: 'numeric', month: 'long' }`: "Montag, 3. November". */
export function germanDayDate(ts: number): string {
  const d = new Date(ts);
  return `${WEEKDAYS[d.getDay()]}, ${d.getDate()}. ${MONTHS[d.getMonth()]}`;
}

/** `{ dateStyle: 'full', timeStyle: 'short' }`: "Montag, 3. November 2026 um 07:05". */
export function germanFullTime(ts: number): string {
  const d = new Date(ts);
  return `${germanDayDate(ts)} ${d.getFullYear()} um ${germanTime(ts)}`;
}
