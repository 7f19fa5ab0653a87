// Which Host a request may name. A DNS-rebinding page (attacker.example resolving first to the
// attacker, then to 127.0.0.1) is same-origin with this server in the browser's eyes, and its
// requests carry `Host: attacker.example`. So the server answers only to the names it is meant
// to be reached by: loopback names, the host of the policy's `server.publicUrl`, and the address
// it was told to listen on. IP literals are accepted as well: a page can only send one as its
// Host when it was itself loaded from that address, so it cannot be a rebinding (and load
// balancers probe by address).
import { isIP } from 'node:net';

/** The host name of a Host header value (port and IPv6 brackets removed, lower case), or null. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/.exec(h);
  if (!m) return null;
  const name = (m[1] ?? m[2]).replace(/\.$/, '');
  if (m[1] !== undefined && isIP(name) !== 6) return null;
  return name;
}

const isLoopbackName = (name: string) => name === 'localhost' || name.endsWith('.localhost');

/**
 * Whether a request naming `header` as its Host is for this server. `names` are the configured
 * public host names (server.publicUrl's host, the listening host), compared without their port.
 */
export function isAllowedHost(header: string | undefined, names: readonly string[]): boolean {
  if (header === undefined) return false;
  const name = hostName(header);
  if (name === null) return false;
  if (isLoopbackName(name) || isIP(name) !== 0) return true;
  return names.some((n) => hostName(n) === name);
}

/** The configured names the server answers to, besides loopback names and addresses. */
export function publicHostNames(publicUrl: string | undefined, listenHost: string | undefined): string[] {
  const names: string[] = [];
  if (publicUrl) {
    try {
      names.push(new URL(publicUrl).hostname);
    } catch {
      // validated by the policy schema; an unparsable one names nothing
    }
  }
  // a loopback or IP listening address is accepted anyway
  if (listenHost && !isLoopbackName(listenHost) && isIP(listenHost) === 0) names.push(listenHost);
  return [...new Set(names)];
}
