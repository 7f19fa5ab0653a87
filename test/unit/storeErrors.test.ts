// What the HTTP layer answers for a store's own error codes (server/store/types.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hono } from 'hono';
import { handleError } from '../../server/http/errors.js';
import { silentLogger } from '../../server/logger.js';
import { STORE_CONFLICT, STORE_UNAVAILABLE } from '../../server/store/types.js';

function answerFor(code: string) {
  const app = new Hono();
  app.onError((err, c) => handleError(err, c, silentLogger));
  app.get('/', () => {
    throw Object.assign(new Error('from the store'), { code });
  });
  return app.request('/');
}

test('storeConflict_isA409Conflict', async () => {
  const res = await answerFor(STORE_CONFLICT);
  assert.equal(res.status, 409);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'conflict');
});

test('storeUnavailable_isA503', async () => {
  const res = await answerFor(STORE_UNAVAILABLE);
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unavailable');
});
