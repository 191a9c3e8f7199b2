import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { BucketDoc } from '../src/index.ts';
export { prng } from '../../../test/support/prng.ts';

export const GROUP = 'group-1';
export const BUCKET = 20_000;
export const T0 = BUCKET * 86_400_000;

export interface Logged {
  device: string;
  update: Uint8Array;
}

/** A BucketDoc whose local updates are appended to `log`. */
export function replica(device: string, log: Logged[], bucket = BUCKET): BucketDoc {
  const doc = new BucketDoc(GROUP, bucket, device);
  doc.onLocalUpdate((update) => log.push({ device, update }));
  return doc;
}

/** Delivers every logged update (from other devices) to `doc`. */
export function deliver(doc: BucketDoc, log: readonly Logged[]): void {
  for (const { device, update } of log) doc.applyRemote(update, device);
}

/** The updates `doc` emits while running `fn`. */
export function capture(doc: BucketDoc, fn: () => void): Uint8Array[] {
  const out: Uint8Array[] = [];
  const off = doc.onLocalUpdate((u) => out.push(u));
  try {
    fn();
  } finally {
    off();
  }
  return out;
}

/** Writes a raw Yjs v1 update from structs (one contiguous run per client, in order) and a delete set. */
export function encodeStructs(structs: (Y.Item | Y.GC)[], ds: [client: number, clock: number, len: number][] = []) {
  const enc = new Y.UpdateEncoderV1();
  const runs = new Map<number, (Y.Item | Y.GC)[]>();
  for (const s of structs) {
    const run = runs.get(s.id.client) ?? [];
    run.push(s);
    runs.set(s.id.client, run);
  }
  encoding.writeVarUint(enc.restEncoder, runs.size);
  for (const [client, run] of runs) {
    encoding.writeVarUint(enc.restEncoder, run.length);
    enc.writeClient(client);
    encoding.writeVarUint(enc.restEncoder, run[0]!.id.clock);
    for (const s of run) s.write(enc, 0);
  }
  const byClient = new Map<number, [number, number][]>();
  for (const [client, clock, len] of ds) byClient.set(client, [...(byClient.get(client) ?? []), [clock, len]]);
  encoding.writeVarUint(enc.restEncoder, byClient.size);
  for (const [client, ranges] of byClient) {
    enc.resetDsCurVal();
    encoding.writeVarUint(enc.restEncoder, client);
    encoding.writeVarUint(enc.restEncoder, ranges.length);
    for (const [clock, len] of ranges) {
      enc.writeDsClock(clock);
      enc.writeDsLen(len);
    }
  }
  return enc.toUint8Array();
}

