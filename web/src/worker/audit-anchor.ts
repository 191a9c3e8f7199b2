import type { AuditEntry, AuditHead } from '@schoolmesh/client/audit';
import type { StorageAdapter } from '@schoolmesh/storage';

/** Where an admin profile keeps the last audit head it verified (in the profile's encrypted store). */
const ANCHOR_KEY = ['app', 'audit-anchor'];

export interface AuditCheck {
  entries: AuditEntry[];
  verdict: { ok: true; entries: number } | { ok: false; at: number; problem: string };
  /** The entry this device had verified before (the anchor the log was checked against), if any. */
  anchoredAt?: number;
}

/**
 * Verifies the relay's audit log on this device (chain, hashes, every signature, the signed head) against the head
 * it verified last time: a later log must still hold that entry unchanged and no fewer entries, so a log rewritten
 * even with the relay's keys is caught. A log that verifies becomes the new anchor; one that does not leaves the old
 * anchor in place.
 */
export async function checkAuditLog(storage: StorageAdapter, school: string, log: { entries: AuditEntry[]; head: AuditHead | null }): Promise<AuditCheck> {
  const { verifyAuditLog } = await import('@schoolmesh/client/audit');
  const saved = await storage.load(ANCHOR_KEY);
  let anchor: { seq: number; hash: string } | undefined;
  if (saved) {
    const parsed = JSON.parse(new TextDecoder().decode(saved)) as { seq?: unknown; hash?: unknown };
    if (typeof parsed.seq === 'number' && typeof parsed.hash === 'string') anchor = { seq: parsed.seq, hash: parsed.hash };
  }
  const verdict = await verifyAuditLog(log.entries, log.head ?? undefined, anchor ? { school, anchor } : { school });
  const anchoredAt = anchor ? { anchoredAt: anchor.seq } : {};
  if (!verdict.ok) return { entries: log.entries, verdict: { ok: false, at: verdict.at, problem: verdict.problem }, ...anchoredAt };
  if (verdict.head) await storage.save(ANCHOR_KEY, new TextEncoder().encode(JSON.stringify({ seq: verdict.head.seq, hash: verdict.head.hash })));
  return { entries: log.entries, verdict: { ok: true, entries: verdict.entries }, ...anchoredAt };
}
