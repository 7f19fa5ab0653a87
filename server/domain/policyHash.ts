// A fingerprint of the policy in force: the SHA-256 of its parsed form as canonical JSON (maps as
// sorted entries, keys sorted), so every replica serving the same rules reports the same hash
// however the file is formatted, and `check-config --format json` prints the hash a file would
// have once loaded. /healthz reports it.
import { canonicalJson } from '../store/auditChain.js';
import { sha256Hex } from '../crypto/sha256.js';
import type { Policy } from './types.js';

const plain = (v: unknown): unknown => {
  if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)).map(([k, x]) => [k, plain(x)]);
  if (v instanceof Set) return [...v].map(plain).sort();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

const cache = new WeakMap<Policy, string>();

export function policyHash(policy: Policy): string {
  let h = cache.get(policy);
  if (!h) {
    h = sha256Hex(canonicalJson(plain(policy)));
    cache.set(policy, h);
  }
  return h;
}
