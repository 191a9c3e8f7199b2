/**
 * The signed, append-only audit log of admin actions. Each entry names the action, its exact request body and who
 * asked: an admin's device (its certificate and its signature over the request, so the entry proves that device
 * asked for exactly this) or the operator on the relay's box (loopback token; the entry is signed by the relay's
 * authority key). Entries are hash-chained, and the chain head (sequence number and hash) is signed by the relay's
 * authority key after every append: an edited, removed, reordered or appended-by-hand entry, or a cut-off tail,
 * fails `verifyAuditLog`. Admin devices keep the last head they saw (an anchor); a later log must extend it, which
 * catches a rewrite even by someone holding the authority key.
 */
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AuditActor, type AuditEntry, type AuditHead, type AuditVerdict, ZERO, entryHash, entryMessage, headMessage, verifyAuditLog } from '@schoolmesh/client/audit';
import type { SigningKeyPair } from '@schoolmesh/crypto';
import { toBase64Url } from '@schoolmesh/wire';

// The format and its verification live with the client, where an admin's browser checks the log too.
export { type AuditActor, type AuditEntry, type AuditHead, type AuditVerdict, entryHash, headMessage, verifyAuditLog };

export class AuditLog {
  private serial: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly school: string,
    private readonly authority: SigningKeyPair,
    private readonly authorityCert: string,
    private entries: AuditEntry[],
    private head: AuditHead | undefined,
    private readonly clock: () => number,
  ) {}

  static async open(dir: string, keys: { schoolId: string; authority: SigningKeyPair; authorityCert: { bytes: Uint8Array } }, clock: () => number = Date.now): Promise<AuditLog> {
    const text = await readFile(join(dir, 'audit.log'), 'utf8').catch(() => '');
    const entries = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AuditEntry);
    const headText = await readFile(join(dir, 'audit-head.json'), 'utf8').catch(() => undefined);
    const head = headText === undefined ? undefined : (JSON.parse(headText) as AuditHead);
    return new AuditLog(dir, keys.schoolId, keys.authority, toBase64Url(keys.authorityCert.bytes), entries, head, clock);
  }

  list(): { entries: AuditEntry[]; head: AuditHead | undefined } {
    return { entries: [...this.entries], head: this.head };
  }

  verify(anchor?: { seq: number; hash: string }): Promise<AuditVerdict> {
    return verifyAuditLog(this.entries, this.head, anchor ? { school: this.school, anchor } : { school: this.school });
  }

  /** Appends one entry (fsynced) and signs the new head. */
  append(action: string, body: string, actor: AuditActor): Promise<AuditEntry> {
    const run = this.serial.then(async () => {
      const last = this.entries.at(-1);
      const base = { seq: (last?.seq ?? 0) + 1, time: this.clock(), prev: last?.hash ?? ZERO, action, body, actor };
      const hash = await entryHash(base);
      const entry: AuditEntry = { ...base, hash };
      if (actor.kind === 'operator') entry.authoritySignature = toBase64Url(await this.authority.sign(entryMessage(hash)));
      const file = await open(join(this.dir, 'audit.log'), 'a', 0o600);
      try {
        await file.appendFile(`${JSON.stringify(entry)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      this.entries.push(entry);
      const fields = { school: this.school, seq: entry.seq, hash, time: entry.time };
      const head: AuditHead = { ...fields, signature: toBase64Url(await this.authority.sign(headMessage(fields))), authorityCert: this.authorityCert };
      const path = join(this.dir, 'audit-head.json');
      await writeFile(`${path}.tmp`, JSON.stringify(head));
      await rename(`${path}.tmp`, path);
      this.head = head;
      return entry;
    });
    this.serial = run.catch(() => {});
    return run;
  }
}
