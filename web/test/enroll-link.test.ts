import { describe, expect, it } from 'vitest';
import { codeFromScan } from '../src/ui/enroll-link.ts';

describe('codes from scanned QR codes', () => {
  const origin = 'http://127.0.0.1:8787';
  it('takes the code from this school’s enrollment link, or a bare code', () => {
    expect(codeFromScan(`${origin}/#enroll=ABCDE-12345-FGHJK`, origin)).toEqual({ ok: true, code: 'ABCDE-12345-FGHJK' });
    expect(codeFromScan(' abcde12345fghjk ', origin)).toEqual({ ok: true, code: 'ABCDE12345FGHJK' });
  });
  it('refuses another school’s link and anything that is not a code', () => {
    expect(codeFromScan('https://schule.example/#enroll=ABCDE-12345-FGHJK', origin)).toEqual({ ok: false, reason: 'other-school', host: 'schule.example' });
    expect(codeFromScan(`${origin}/#enroll=<script>`, origin)).toEqual({ ok: false, reason: 'not-a-code' });
    expect(codeFromScan('hello', origin)).toEqual({ ok: false, reason: 'not-a-code' });
    expect(codeFromScan('javascript:alert(1)', origin)).toEqual({ ok: false, reason: 'not-a-code' });
  });
});
