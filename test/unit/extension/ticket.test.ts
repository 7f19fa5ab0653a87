// Branch → ticket: what the branch name prefills.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TICKET_PATTERN, prefillFromBranch, ticketRegex } from '../../../extension/context/ticket';

const re = ticketRegex(DEFAULT_TICKET_PATTERN) as RegExp;

describe('branch → ticket', () => {
  it('theIssuesExample_ticketAndAJustificationFromTheRestOfTheName', () => {
    assert.deepEqual(prefillFromBranch('fix/INC-4711-slow-orders', re), { ticket: 'INC-4711', justification: 'INC-4711: fix slow orders' });
  });
  it('aBranchThatIsOnlyTheTicket_justificationIsTheTicket', () => {
    assert.deepEqual(prefillFromBranch('OPS-12', re), { ticket: 'OPS-12', justification: 'OPS-12' });
  });
  it('noTicketInTheName_orNoBranch_prefillsNothing', () => {
    assert.equal(prefillFromBranch('main', re), undefined);
    assert.equal(prefillFromBranch('fix/slow-orders-2', re), undefined);
    assert.equal(prefillFromBranch(undefined, re), undefined);
  });
  it('aCustomPattern_isUsed', () => {
    const custom = ticketRegex('#\\d+') as RegExp;
    assert.deepEqual(prefillFromBranch('feature/#123_login', custom), { ticket: '#123', justification: '#123: feature login' });
  });
  it('ticketRegex_emptyIsOff_brokenSaysWhy', () => {
    assert.equal(ticketRegex(''), undefined);
    assert.ok('error' in (ticketRegex('[A-Z') as object));
    assert.ok(ticketRegex(undefined) instanceof RegExp);
  });
});
