import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The relay's Prometheus metrics (served at /metrics); names are listed in docs/admin-guide.md. */
export class RelayMetrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'schoolmesh_connections', help: 'Authenticated sync sessions', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly refused = new Counter({ name: 'schoolmesh_sessions_refused_total', help: 'Sessions refused or dropped by admission', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly entriesStored = new Counter({ name: 'schoolmesh_entries_stored_total', help: 'Entries durably stored', registers: [this.registry] });
  readonly entriesRejected = new Counter({ name: 'schoolmesh_entries_rejected_total', help: 'Entries refused (not a member, bad signature, …)', registers: [this.registry] });
  readonly entriesForwarded = new Counter({ name: 'schoolmesh_entries_forwarded_total', help: 'Entries pushed live to other sessions', registers: [this.registry] });
  readonly storeSeconds = new Histogram({
    name: 'schoolmesh_store_seconds',
    help: 'Time from receiving a batch of entries to its durable write (the ACK)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly forwardSeconds = new Histogram({
    name: 'schoolmesh_forward_ack_seconds',
    help: 'Time from a live push to the receiving peer’s ACK',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({ name: 'schoolmesh_rate_limited_total', help: 'Batches delayed or refused by per-device limits', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly storeBytes = new Gauge({ name: 'schoolmesh_store_bytes', help: 'Bytes of the embedded store on disk', registers: [this.registry] });
  readonly groups = new Gauge({ name: 'schoolmesh_groups', help: 'Groups whose membership log the relay holds', registers: [this.registry] });
  readonly federationLinks = new Gauge({ name: 'schoolmesh_federation_links', help: 'Authenticated sessions with partner relays', registers: [this.registry] });
  readonly expiredBuckets = new Counter({ name: 'schoolmesh_expired_buckets_total', help: 'Buckets deleted by retention', registers: [this.registry] });

  readonly blobRequests = new Counter({ name: 'schoolmesh_blob_requests_total', help: 'Blob requests by operation and outcome', labelNames: ['op', 'outcome'] as const, registers: [this.registry] });
  readonly blobBytesIn = new Counter({ name: 'schoolmesh_blob_bytes_in_total', help: 'Sealed blob bytes stored from uploads', registers: [this.registry] });
  readonly blobBytesOut = new Counter({ name: 'schoolmesh_blob_bytes_out_total', help: 'Sealed blob bytes served', registers: [this.registry] });
  readonly blobStoreBytes = new Gauge({ name: 'schoolmesh_blob_store_bytes', help: 'Bytes of sealed blobs on disk', registers: [this.registry] });
  readonly expiredBlobs = new Counter({ name: 'schoolmesh_expired_blobs_total', help: 'Blobs deleted by retention', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'schoolmesh_' });
  }
}
