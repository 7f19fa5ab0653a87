import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../../../server/protocol';
import { detailFields, exportFileName, toCsv, toJsonl } from '../../../extension/model/auditExport';

const event = (over: Partial<AuditEvent> = {}): AuditEvent => ({
  seq: 1,
  at: '2026-11-23T12:00:00.000Z',
  actorId: 'alice',
  action: 'request.created',
  resourceId: 'prod-db',
  details: { justification: 'a "quoted", multi\nline text' },
  prevHash: '0'.repeat(64),
  hash: 'ab'.repeat(32),
  ...over,
});

describe('audit export', () => {
  it('toJsonl_oneParsableLinePerEvent', () => {
    const text = toJsonl([event(), event({ seq: 2 })]);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[1]), event({ seq: 2 }));
  });
  it('toCsv_quotesCommasQuotesAndNewlines', () => {
    const csv = toCsv([event()]);
    const [header, row] = csv.split('\r\n');
    assert.equal(header, 'seq,at,actorId,action,resourceId,requestId,grantId,details,prevHash,hash');
    assert.ok(csv.includes('"{""justification"":""a \\""quoted\\"", multi\\nline text""}"'), row);
  });
  it('toCsv_neutralisesSpreadsheetFormulas', () => {
    const csv = toCsv([event({ actorId: '=HYPERLINK("x")' })]);
    assert.ok(csv.includes(`"'=HYPERLINK(""x"")"`));
  });
  it('detailFields_areReadableFields_skippingEmptyValues', () => {
    assert.deepEqual(detailFields({ reason: 'x', b: null, c: '', durationSeconds: 3, groups: ['dba', 'sre'] }), [
      ['reason', 'x'],
      ['duration seconds', '3'],
      ['groups', 'dba, sre'],
    ]);
  });
});

describe('export file name', () => {
  it('exportFileName_isDated_andNamesTheFormat', () => {
    assert.equal(exportFileName('csv', Date.parse('2026-12-06T07:00:00Z')), 'elevate-audit-2026-12-06.csv');
    assert.equal(exportFileName('jsonl', Date.parse('2026-12-06T07:00:00Z')), 'elevate-audit-2026-12-06.jsonl');
  });
});
