// Client addresses behind proxies. The address a rate limit and the audit log attribute a request
// to is the TCP peer, unless that peer is a proxy the policy trusts (`server.trustedProxies`):
// then it is the nearest address in X-Forwarded-For that is not itself a trusted proxy. Anyone can
// write X-Forwarded-For, so it is believed only hop by hop from the right, through trusted peers.
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "192.0.2.7" (a /32), "fd00::/8", "::1" (a /128); null when it is neither. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A matcher for the trusted proxies (CIDRs already validated with parseCidr). */
export function proxyMatcher(cidrs: readonly string[]): (address: string) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new BlockList();
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (c) list.addSubnet(c.address, c.prefix, c.family);
  }
  return (address) => {
    const version = isIP(address);
    // BlockList matches IPv4-mapped IPv6 peers (::ffff:10.0.0.1) against IPv4 networks too
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * The client a request comes from: the peer itself unless it is trusted; else the rightmost
 * X-Forwarded-For entry that is not a trusted proxy (a malformed entry stops the walk at the last
 * hop that wrote it, so garbage can never choose the address). Several headers count as one list.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: (address: string) => boolean): string {
  if (!forwardedFor || !trusted(peer)) return peer;
  const hops = forwardedFor.split(',').map((h) => h.trim());
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = stripPort(hops[i]);
    if (isIP(hop) === 0) break;
    client = hop;
    if (!trusted(hop)) break;
  }
  return client;
}

/** "192.0.2.7:5123" and "[2001:db8::1]:443" as some proxies write them; a bare address as is. */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) return bracketed[1];
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4port ? v4port[1] : hop;
}
