import { describe, expect, it } from 'vitest';
import { germanDateShort, germanDayDate, germanFullTime, germanTime, germanWeekday } from '../src/ui/german-dates.ts';

describe('German dates without Intl', () => {
  it('give exactly what Intl.DateTimeFormat("de-DE") gives, over two years of hours', () => {
    const intl = {
      time: new Intl.DateTimeFormat('de-DE', { hour: '2-digit', minute: '2-digit' }),
      weekday: new Intl.DateTimeFormat('de-DE', { weekday: 'long' }),
      weekdayShort: new Intl.DateTimeFormat('de-DE', { weekday: 'short' }),
      dateShort: new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: '2-digit' }),
      dayDate: new Intl.DateTimeFormat('de-DE', { weekday: 'long', day: 'numeric', month: 'long' }),
      full: new Intl.DateTimeFormat('de-DE', { dateStyle: 'full', timeStyle: 'short' }),
    };
    const start = Date.UTC(2025, 0, 1);
    let checked = 0;
    for (let ts = start; ts < start + 2 * 366 * 86_400_000; ts += 3_600_000 + 7 * 60_000) {
      expect(germanTime(ts)).toBe(intl.time.format(ts));
      expect(germanWeekday(ts)).toBe(intl.weekday.format(ts));
      expect(germanWeekday(ts, true)).toBe(intl.weekdayShort.format(ts));
      expect(germanDateShort(ts)).toBe(intl.dateShort.format(ts));
      expect(germanDayDate(ts)).toBe(intl.dayDate.format(ts));
      expect(germanFullTime(ts)).toBe(intl.full.format(ts));
      checked++;
    }
    expect(checked).toBeGreaterThan(10_000);
  });
});
