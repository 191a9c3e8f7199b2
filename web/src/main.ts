/**
 * The web app's entry point: German by default (English on request), the app shell, and the service worker that
 * lets the installed app open with no network.
 */
import { initLocale } from './i18n/locale.ts';
import './ui/app.ts';

void initLocale();

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((error: Error) => console.warn('service worker not registered:', error.message));
  });
}
