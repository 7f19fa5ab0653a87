import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CredentialsResponse } from '../../../server/protocol';
import { ApiError } from '../../../extension/api/errors';
import {
  clipboardContent,
  clipboardFingerprint,
  decideReleases,
  fetchCredentials,
  postgresUri,
  shellValue,
  terminalEnv,
  terminalName,
  type GrantsSnapshot,
} from '../../../extension/model/credentials';
import { T0 } from './fakes';

const pg = { PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'elevate_alice_1a2b', PGPASSWORD: 'p@ss/w:rd?#', PGDATABASE: 'app' };

describe('postgresUri', () => {
  it('postgresUri_fromLibpqVariables_isAConnectionUriWithEncodedSecrets', () => {
    assert.equal(postgresUri(pg), 'postgresql://elevate_alice_1a2b:p%40ss%2Fw%3Ard%3F%23@127.0.0.1:5432/app');
    // what a driver makes of it is what was issued
    const u = new URL(postgresUri(pg)!);
    assert.equal(decodeURIComponent(u.password), pg.PGPASSWORD);
    assert.equal(decodeURIComponent(u.username), pg.PGUSER);
  });
  it('postgresUri_ipv6HostAndSslMode_areBracketedAndAQueryParameter', () => {
    assert.equal(postgresUri({ PGHOST: '::1', PGUSER: 'u', PGPASSWORD: 'x', PGSSLMODE: 'require' }), 'postgresql://u:x@[::1]?sslmode=require');
  });
  it('postgresUri_withoutHostOrUser_isUndefined', () => {
    assert.equal(postgresUri({ PGUSER: 'u' }), undefined);
    assert.equal(postgresUri({ PGHOST: 'h' }), undefined);
    assert.equal(postgresUri({ TOKEN: 't' }), undefined);
  });
});

describe('clipboardContent', () => {
  it('clipboardContent_forPostgres_isTheUriAndNamesOnlyThePgKeys', () => {
    const c = clipboardContent(pg);
    assert.equal(c.kind, 'uri');
    assert.equal(c.text, postgresUri(pg));
    assert.deepEqual(c.keys, ['PGDATABASE', 'PGHOST', 'PGPASSWORD', 'PGPORT', 'PGUSER']);
  });
  it('clipboardContent_otherwise_isSortedKeyValueLinesQuotedWhereNeeded', () => {
    const c = clipboardContent({ VAULT_TOKEN: 's.abc123', NOTE: "it's a b" });
    assert.equal(c.kind, 'env');
    assert.equal(c.text, "NOTE='it'\\''s a b'\nVAULT_TOKEN=s.abc123\n");
    assert.deepEqual(c.keys, ['NOTE', 'VAULT_TOKEN']);
  });
  it('shellValue_safeCharacters_stayBare_andEverythingElseIsSingleQuoted', () => {
    assert.equal(shellValue('https://x.example/a?b'), "'https://x.example/a?b'");
    assert.equal(shellValue('abc-1.2:3@4'), 'abc-1.2:3@4');
    assert.equal(shellValue(''), "''");
    assert.equal(shellValue('$(rm -rf /)'), "'$(rm -rf /)'");
  });
});

describe('terminal', () => {
  it('terminalName_namesResourceRoleAndEnd', () => {
    assert.equal(terminalName('Production database', 'write', '14:30'), 'Production database (write) — until 14:30');
  });
  it('terminalEnv_keepsOnlyValidVariableNames', () => {
    assert.deepEqual(terminalEnv({ ...pg, 'bad-name': 'x', '1X': 'y', _OK: 'z' }), { ...pg, _OK: 'z' });
  });
});

describe('fetchCredentials', () => {
  const response: CredentialsResponse = { grantId: 'g1', expiresAt: new Date(T0 + 3600_000).toISOString(), credentials: pg };
  const conflict = (message: string) => new ApiError(409, 'conflict', message);
  const noSleep = async () => {};

  it('fetchCredentials_whileProvisioning_asksAgainUntilTheyArrive', async () => {
    let calls = 0;
    const got = await fetchCredentials(
      async () => {
        if (++calls < 3) throw conflict('no credentials were issued for this grant (yet)');
        return response;
      },
      'x',
      { sleep: noSleep },
    );
    assert.equal(calls, 3);
    assert.equal(got, response);
  });
  it('fetchCredentials_conflictThatLasts_givesUpWithAMessageSayingWhy', async () => {
    let calls = 0;
    await assert.rejects(
      fetchCredentials(
        async () => {
          calls++;
          throw conflict('no credentials were issued for this grant (yet)');
        },
        'your write access to DB',
        { attempts: 4, sleep: noSleep },
      ),
      (e: ApiError) => e.status === 409 && /No credentials for your write access to DB yet/.test(e.message),
    );
    assert.equal(calls, 4);
  });
  it('fetchCredentials_grantEnded_saysSo', async () => {
    await assert.rejects(
      fetchCredentials(
        async () => {
          throw conflict('grant is revoked');
        },
        'your access',
        { attempts: 1, sleep: noSleep },
      ),
      (e: ApiError) => /has ended/.test(e.message),
    );
  });
  it('fetchCredentials_otherErrors_failAtOnce', async () => {
    let calls = 0;
    await assert.rejects(
      fetchCredentials(
        async () => {
          calls++;
          throw new ApiError(403, 'forbidden', 'only the owner');
        },
        'x',
        { sleep: noSleep },
      ),
      /only the owner/,
    );
    assert.equal(calls, 1);
  });
});

describe('decideReleases', () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const tracked = { grantId: 'g1', expiresAt: T0 + 600_000 };
  const snap = (o: Partial<GrantsSnapshot>): GrantsSnapshot => ({
    now: T0,
    authoritative: true,
    active: [{ id: 'g1', expiresAt: iso(tracked.expiresAt) }],
    ended: () => undefined,
    ...o,
  });

  it('decideReleases_grantStillActive_keepsItsHolders', () => {
    assert.deepEqual(decideReleases([tracked], snap({})), []);
  });
  for (const status of ['expired', 'revoked', 'relinquished', 'failed'] as const) {
    it(`decideReleases_grant${status[0].toUpperCase()}${status.slice(1)}_releasesWithThatReason`, () => {
      assert.deepEqual(decideReleases([tracked], snap({ active: [], ended: (id) => (id === 'g1' ? { status } : undefined) })), [
        { grantId: 'g1', action: 'release', reason: status },
      ]);
    });
  }
  it('decideReleases_pastTheEndWithoutAnyEvent_releasesAsExpired_evenWhenTheServerIsUnreachable', () => {
    assert.deepEqual(decideReleases([tracked], snap({ now: tracked.expiresAt, authoritative: false })), [
      { grantId: 'g1', action: 'release', reason: 'expired' },
    ]);
  });
  it('decideReleases_extended_movesTheEndInsteadOfReleasing', () => {
    const later = tracked.expiresAt + 1800_000;
    assert.deepEqual(decideReleases([tracked], snap({ now: tracked.expiresAt, active: [{ id: 'g1', expiresAt: iso(later) }] })), [
      { grantId: 'g1', action: 'extend', expiresAt: later },
    ]);
  });
  it('decideReleases_goneFromTheServersActiveList_releasesAsEnded', () => {
    assert.deepEqual(decideReleases([tracked], snap({ active: [] })), [{ grantId: 'g1', action: 'release', reason: 'ended' }]);
  });
  it('decideReleases_signedOutOrUnreachable_keepsHoldersUntilTheEnd', () => {
    assert.deepEqual(decideReleases([tracked], snap({ active: [], authoritative: false })), []);
  });
  it('decideReleases_onlyTheEndedGrantIsReleased', () => {
    const other = { grantId: 'g2', expiresAt: T0 + 900_000 };
    const d = decideReleases(
      [tracked, other],
      snap({
        active: [{ id: 'g2', expiresAt: iso(other.expiresAt) }],
        ended: (id) => (id === 'g1' ? { status: 'revoked' } : undefined),
      }),
    );
    assert.deepEqual(d, [{ grantId: 'g1', action: 'release', reason: 'revoked' }]);
  });
});

describe('clipboardFingerprint', () => {
  it('clipboardFingerprint_sameTextWhateverTheLineEnds_isTheSame_andHidesTheText', () => {
    const text = 'PGUSER=u\nPGPASSWORD=secret\n';
    assert.equal(clipboardFingerprint(text), clipboardFingerprint(text.replace(/\n/g, '\r\n')));
    assert.ok(!clipboardFingerprint(text).includes('secret'));
  });
  it('clipboardFingerprint_otherText_differs', () => {
    assert.notEqual(clipboardFingerprint('postgresql://u:a@h/db'), clipboardFingerprint('postgresql://u:b@h/db'));
    assert.notEqual(clipboardFingerprint('x'), clipboardFingerprint(''));
  });
});
