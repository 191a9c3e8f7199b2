import { configureLocalization } from '@lit/localize';

/** German is the source locale (every string is written in German in the code); English is loaded on request. */
export const sourceLocale = 'de';
export const targetLocales = ['en'] as const;
export type Locale = 'de' | 'en';

const STORAGE_KEY = 'schoolmesh.locale';

export const { getLocale, setLocale } = configureLocalization({
  sourceLocale,
  targetLocales,
  loadLocale: () => import('./en.ts'),
});

export function currentLocale(): Locale {
  return getLocale() === 'en' ? 'en' : 'de';
}

/** The BCP 47 tag for dates and numbers. */
export function intlLocale(): string {
  return currentLocale() === 'en' ? 'en-GB' : 'de-DE';
}

export async function switchLocale(locale: Locale): Promise<void> {
  await setLocale(locale);
  document.documentElement.lang = locale;
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // storage unavailable: the choice lasts for this page
  }
}

/** German unless the user chose English here before (or the URL asks with ?lang=en). */
export async function initLocale(): Promise<void> {
  let wanted: string | null = new URLSearchParams(location.search).get('lang');
  try {
    wanted ??= localStorage.getItem(STORAGE_KEY);
  } catch {
    // ignore
  }
  if (wanted === 'en') await switchLocale('en');
  else document.documentElement.lang = 'de';
}
