// The PostgreSQL URL, its password's sources, and what may be shown of it (server/store/postgres/url.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUnavailable, translate } from '../../server/store/postgres/errors.js';
import { pgpassMatch, redactUrl, resolvePassword, scrub } from '../../server/store/postgres/url.js';
import { STORE_CONFLICT, STORE_UNAVAILABLE } from '../../server/store/types.js';

test('redactUrl_passwordInUserinfo_isReplaced', () => {
  assert.equal(redactUrl('postgres://elevate:s3cret@db.example:5432/elevate'), 'postgres://elevate:***@db.example:5432/elevate');
});

test('redactUrl_encodedPasswordAndPasswordParameter_areReplaced', () => {
  const shown = redactUrl('postgresql://u:p%40ss%3Aw@h/db?sslmode=require&password=other');
  assert.ok(!shown.includes('p%40ss') && !shown.includes('other'), shown);
  assert.match(shown, /^postgresql:\/\/u:\*\*\*@h\/db\?sslmode=require&password=\*\*\*$/);
});

test('redactUrl_withoutPassword_isUnchanged', () => {
  assert.equal(redactUrl('postgres://u@h:5432/db'), 'postgres://u@h:5432/db');
});

test('redactUrl_unparseable_stillHidesWhatLooksLikeAPassword', () => {
  const shown = redactUrl('postgres://u:se cret@[bad/db?password=x y');
  assert.ok(!shown.includes('se cret') && !shown.includes('x y'), shown);
});

test('scrub_removesThePasswordWhereverItAppears', () => {
  assert.equal(scrub('auth failed for hunter2 (hunter2)', 'hunter2'), 'auth failed for *** (***)');
  assert.equal(scrub('nothing to hide', undefined), 'nothing to hide');
});

const c = { host: 'db.example', port: '5432', database: 'elevate', user: 'app' };

test('pgpassMatch_firstMatchingLineWins_withWildcards', () => {
  const file = ['# comment', 'other:5432:elevate:app:no', '*:5432:elevate:app:yes', '*:*:*:*:fallback'].join('\n');
  assert.equal(pgpassMatch(file, c), 'yes');
  assert.equal(pgpassMatch(file, { ...c, database: 'x' }), 'fallback');
  assert.equal(pgpassMatch('other:*:*:*:no', c), undefined);
});

test('pgpassMatch_escapedColonsAndBackslashes_areLiteral', () => {
  assert.equal(pgpassMatch('db.example:5432:elevate:app:pa\\:ss\\\\word', c), 'pa:ss\\word');
  assert.equal(pgpassMatch('db.example:5432:elevate:app:a:b', c), 'a:b');
});

test('resolvePassword_urlFirst_thenOption_thenPGPASSWORD', () => {
  const env = { PGPASSWORD: 'from-env', PGPASSFILE: '/nonexistent' };
  assert.deepEqual(resolvePassword('postgres://u:in-url@h/db', 'from-file', env), { url: 'postgres://u:in-url@h/db', password: 'in-url' });
  const fromFile = resolvePassword('postgres://u@h/db', 'fr:om@file', env);
  assert.equal(fromFile.password, 'fr:om@file');
  assert.equal(new URL(fromFile.url).password, encodeURIComponent('fr:om@file'));
  assert.equal(resolvePassword('postgres://u@h/db', undefined, env).password, 'from-env');
  assert.deepEqual(resolvePassword('postgres://u@h/db', undefined, { PGPASSFILE: '/nonexistent' }), { url: 'postgres://u@h/db', password: undefined });
});

test('translate_connectionFailures_becomeStoreUnavailable_withoutThePassword', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432 (pw hunter2)'), { code: 'ECONNREFUSED' });
  const t = translate(refused, 'hunter2') as Error & { code?: string };
  assert.equal(t.code, STORE_UNAVAILABLE);
  assert.ok(!t.message.includes('hunter2'));
  assert.ok(isUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
  assert.ok(isUnavailable(new Error('Connection terminated unexpectedly')));
  // a syntax error is a bug, passed on as it is
  const bug = Object.assign(new Error('syntax error'), { code: '42601' });
  assert.equal(translate(bug, 'x'), bug);
});

test('translate_uniqueViolationDeadlockSerialization_becomeStoreConflict', () => {
  for (const code of ['23505', '40P01', '40001']) {
    const t = translate(Object.assign(new Error(`failed (${code})`), { code }), 'x') as Error & { code?: string };
    assert.equal(t.code, STORE_CONFLICT, code);
  }
});
