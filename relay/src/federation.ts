import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { RelayLink, rawKeyOfPeer } from '@schoolmesh/net-libp2p';
import { type TrustStore, decodeRevocationList } from '@schoolmesh/identity';
import { toBase64Url } from '@schoolmesh/wire';
import type { Logger } from 'pino';
import type { PartnerConfig } from './config.ts';
import type { SessionHub } from './hub.ts';

/**
 * Links to partner relays. Of two partners, the one with the smaller peer id dials and keeps the link up
 * (redialling with backoff); the other only accepts, so each pair holds one session. What crosses a link is
 * decided per group by the replica: only groups with members of both schools.
 */
export class Federation {
  private readonly links: RelayLink[] = [];

  constructor(
    private readonly node: Libp2p,
    private readonly hub: SessionHub,
    private readonly log: Logger,
  ) {}

  start(partners: readonly PartnerConfig[]): void {
    const me = this.node.peerId.toString();
    for (const partner of partners) {
      const addrs = partner.addrs.map((a) => multiaddr(a));
      const peerId = addrs[0]!.getComponents().find((c) => c.name === 'p2p')?.value;
      if (!peerId) {
        this.log.warn({ partner: partner.name }, 'partner address without /p2p/<peer id>: not dialled');
        continue;
      }
      if (peerId > me) {
        const key = rawKeyOfPeer(peerId);
        const link = new RelayLink({
          node: this.node,
          endpoint: { connect: (channel, o) => this.hub.open(channel, o.transportKey ?? key!, 'outbound') },
          addrs,
          agent: 'schoolmesh-relay',
          minDelayMs: 500,
          maxDelayMs: 10_000,
          onState: (state, detail) => this.log.info({ partner: partner.name, state, detail }, 'federation link'),
        });
        this.links.push(link.start());
      } else {
        this.log.info({ partner: partner.name, partnerId: peerId, authority: key64(peerId) }, 'federation: waiting for the partner to dial');
      }
    }
  }

  stop(): void {
    for (const l of this.links) l.stop();
    this.links.length = 0;
  }

  /**
   * Fetches each partner's signed revocation list (from its `http` base URL) and applies it: the trust store checks
   * the list's signature against the partner's root, so a wrong or hostile answer changes nothing. Returns how many
   * lists were applied; a partner that cannot be reached is logged and tried again next time.
   */
  async refreshRevocations(partners: readonly PartnerConfig[], trust: TrustStore): Promise<number> {
    let applied = 0;
    for (const p of partners) {
      if (!p.http) continue;
      try {
        const response = await fetch(new URL('/api/revocations', p.http), { signal: AbortSignal.timeout(10_000) });
        if (response.status === 404) continue;
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const list = decodeRevocationList(new Uint8Array(await response.arrayBuffer()));
        if (list.school !== p.root) throw new Error('the list is for another school');
        await trust.applyRevocationList(list);
        applied++;
      } catch (error) {
        this.log.warn({ partner: p.name, reason: (error as Error).message }, 'partner revocation list not fetched');
      }
    }
    return applied;
  }
}

function key64(peerId: string): string | undefined {
  const k = rawKeyOfPeer(peerId);
  return k ? toBase64Url(k) : undefined;
}
