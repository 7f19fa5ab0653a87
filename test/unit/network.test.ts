import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddress, parseCidr, proxyMatcher } from '../../server/domain/network.js';
import { parsePolicy } from '../../server/domain/policy.js';

test('parseCidr_acceptsAddressesAndNetworksOfBothFamilies_andRefusesTheRest', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseCidr('192.0.2.7'), { address: '192.0.2.7', prefix: 32, family: 'ipv4' });
  assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
  for (const bad of ['', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'proxy.internal', '10.0.0.0/', '10.0.0.0/x', '1.2.3.4/08x']) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

test('clientAddress_believesForwardedForOnlyThroughTrustedPeers', () => {
  const trusted = proxyMatcher(['10.0.0.0/8', '::1/128']);
  assert.equal(clientAddress('192.0.2.1', '203.0.113.5', trusted), '192.0.2.1', 'untrusted peer: header ignored');
  assert.equal(clientAddress('10.0.0.2', undefined, trusted), '10.0.0.2', 'trusted peer without header: the peer');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.5', trusted), '203.0.113.5');
  assert.equal(clientAddress('::ffff:10.0.0.2', '203.0.113.5', trusted), '203.0.113.5', 'IPv4-mapped peers match IPv4 networks');
  assert.equal(clientAddress('10.0.0.2', 'spoofed, 203.0.113.5, 10.9.9.9', trusted), '203.0.113.5', 'rightmost untrusted hop');
  assert.equal(clientAddress('10.0.0.2', '10.1.1.1, 10.2.2.2', trusted), '10.1.1.1', 'all hops trusted: the leftmost');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.5, not-an-ip', trusted), '10.0.0.2', 'garbage stops the walk at the hop that wrote it');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.5:5123', trusted), '203.0.113.5', 'a port is dropped');
  assert.equal(clientAddress('::1', '[2001:db8::1]:443', trusted), '2001:db8::1');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.5', proxyMatcher([])), '10.0.0.2', 'no trusted proxies: never believed');
});

test('policy_serverSection_validatesPublicUrlAndTrustedProxies_namingEachProblem', () => {
  const base = 'users: [{id: alice}]\nresources: [{id: db, roles: [read], maxDuration: 1h}]\n';
  const ok = parsePolicy(`${base}server: {publicUrl: "https://elevate.example.com", trustedProxies: ["10.0.0.0/8", "::1"]}\n`);
  assert.ok(ok.ok);
  assert.deepEqual(ok.policy.server, { publicUrl: 'https://elevate.example.com', trustedProxies: ['10.0.0.0/8', '::1'] });
  const none = parsePolicy(base);
  assert.ok(none.ok);
  assert.deepEqual(none.policy.server, { trustedProxies: [] });
  const bad = parsePolicy(`${base}server: {publicUrl: "ftp://x", trustedProxies: ["10.0.0.0/99"], listen: 1}\n`);
  assert.ok(!bad.ok);
  assert.ok(
    bad.errors.some((e) => e.startsWith('server.publicUrl: expected an http:// or https:// URL')),
    bad.errors.join('\n'),
  );
  assert.ok(
    bad.errors.some((e) => e.startsWith('server.trustedProxies[0]: expected an IP address or a CIDR')),
    bad.errors.join('\n'),
  );
  assert.ok(
    bad.errors.some((e) => e.startsWith('server.listen: unknown key')),
    bad.errors.join('\n'),
  );
});
