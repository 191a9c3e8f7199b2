/**
 * What a scanned QR code says: the enrollment link the school prints (`https://<relay>/#enroll=CODE`), or the bare
 * code. A link to another origin belongs to another school's server: its code would not work here.
 */
export type ScannedCode = { ok: true; code: string } | { ok: false; reason: 'other-school'; host: string } | { ok: false; reason: 'not-a-code' };

const CODE = /^[0-9A-Za-z]{5}-?[0-9A-Za-z]{5}-?[0-9A-Za-z]{5}$/;

export function codeFromScan(text: string, origin: string): ScannedCode {
  const trimmed = text.trim();
  if (CODE.test(trimmed)) return { ok: true, code: trimmed.toUpperCase() };
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return { ok: false, reason: 'not-a-code' };
  }
  const code = new URLSearchParams(url.hash.replace(/^#/, '')).get('enroll');
  if (!code || !CODE.test(code)) return { ok: false, reason: 'not-a-code' };
  if (url.origin !== origin) return { ok: false, reason: 'other-school', host: url.host };
  return { ok: true, code: code.toUpperCase() };
}
