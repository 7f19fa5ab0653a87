import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ElevateClient } from '../../../extension/api/client';
import { backoffDelay, LiveEventSource, SseParser, type SseMessage } from '../../../extension/api/sse';
import { FakeTimers } from './fakes';

const parse = (chunks: string[], lastId?: string) => {
  const out: SseMessage[] = [];
  const retries: number[] = [];
  const p = new SseParser(
    (m) => out.push(m),
    (ms) => retries.push(ms),
    () => {},
    lastId,
  );
  for (const c of chunks) p.push(c);
  return { out, retries, parser: p };
};

describe('SseParser', () => {
  it('parse_completeEvent_yieldsIdEventAndData', () => {
    const { out } = parse(['id: 7\nevent: grant.activated\ndata: {"a":1}\n\n']);
    assert.deepEqual(out, [{ id: '7', event: 'grant.activated', data: '{"a":1}' }]);
  });
  it('parse_chunksSplitAnywhere_giveTheSameEvents', () => {
    const text = 'id: 1\ndata: one\n\n: ping\n\nid: 2\ndata: two\ndata: lines\n\n';
    const whole = parse([text]).out;
    for (let i = 1; i < text.length; i++) assert.deepEqual(parse([text.slice(0, i), text.slice(i)]).out, whole, `split at ${i}`);
    assert.deepEqual(
      whole.map((m) => m.data),
      ['one', 'two\nlines'],
    );
  });
  it('parse_crlfAndCrLineEnds_areAccepted_evenWhenSplitBetweenCrAndLf', () => {
    assert.deepEqual(
      parse(['data: a\r\n\r\ndata: b\r\rdata: c\r', '\n\r', '\n']).out.map((m) => m.data),
      ['a', 'b', 'c'],
    );
  });
  it('parse_commentsOnly_yieldNothing', () => {
    assert.deepEqual(parse([': ping\n\n: ping\n\n']).out, []);
  });
  it('parse_idPersistsAcrossEventsAndStartsFromTheResumeId', () => {
    const { out } = parse(['data: x\n\nid: 9\ndata: y\n\ndata: z\n\n'], '4');
    assert.deepEqual(
      out.map((m) => m.id),
      ['4', '9', '9'],
    );
  });
  it('parse_eventWithoutData_isNotDispatched', () => {
    assert.deepEqual(parse(['event: foo\n\ndata: x\n\n']).out, [{ id: undefined, event: 'message', data: 'x' }]);
  });
  it('parse_retryField_isReported', () => {
    assert.deepEqual(parse(['retry: 5000\n\nretry: nope\n\n']).retries, [5000]);
  });
  it('parse_idOfAnIncompleteEvent_isNotTheResumePoint_untilTheEventEnds', () => {
    // a connection dropped between "id: 8" and the blank line must resume before event 8
    const { out, parser } = parse(['id: 7\ndata: a\n\nid: 8\nevent: grant.revoked\ndata: {"half"'], '3');
    assert.deepEqual(
      out.map((m) => m.id),
      ['7'],
    );
    assert.equal(parser.lastEventId, '7');
    parser.push('}\n\n');
    assert.equal(parser.lastEventId, '8');
  });
  it('parse_idOnlyFrame_movesTheResumePoint', () => {
    assert.equal(parse(['id: 12\nretry: 0\n\n'], '3').parser.lastEventId, '12');
  });
  it('parse_incompleteEvent_waitsForTheBlankLine', () => {
    const { out, parser } = parse(['data: half']);
    assert.equal(out.length, 0);
    parser.push('\n\n');
    assert.equal(out.length, 1);
  });
});

describe('backoff', () => {
  const fixed = (r: number) => ({ initialMs: 1000, maxMs: 30_000, factor: 2, random: () => r });
  it('backoffDelay_growsExponentially', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((a) => backoffDelay(a, fixed(1))),
      [1000, 2000, 4000, 8000],
    );
  });
  it('backoffDelay_isCappedAtMax', () => {
    assert.equal(backoffDelay(20, fixed(1)), 30_000);
  });
  it('backoffDelay_jitterStaysBetweenHalfAndFullCeiling', () => {
    assert.equal(backoffDelay(3, fixed(0)), 4000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, { ...fixed(0), random: Math.random });
      assert.ok(d >= 8000 && d <= 16000, String(d));
    }
  });
});

/** A fake /v1/events endpoint: every open() gets a stream the test writes to. */
class FakeEndpoint {
  opens: { lastId: string | undefined; write: (s: string) => void; close: () => void; signal: AbortSignal }[] = [];
  status = 200;
  open = async (lastId: string | undefined, signal: AbortSignal): Promise<Response> => {
    if (this.status !== 200) {
      this.opens.push({ lastId, write: () => {}, close: () => {}, signal });
      return new Response(JSON.stringify({ error: { code: 'unauthenticated', message: 'token revoked' } }), { status: this.status });
    }
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
    });
    signal.addEventListener('abort', () => {
      try {
        controller.error(new Error('aborted'));
      } catch {
        /* closed */
      }
    });
    this.opens.push({ lastId, signal, write: (s) => controller.enqueue(new TextEncoder().encode(s)), close: () => controller.close() });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LiveEventSource', () => {
  it('stream_dropped_reconnectsWithBackoffAndResumesWithLastEventId', async () => {
    const timers = new FakeTimers();
    const ep = new FakeEndpoint();
    const got: string[] = [];
    const src = new LiveEventSource({ open: ep.open, timers, backoff: { random: () => 0 } });
    src.onMessage((m) => got.push(m.data));
    src.start();
    await flush();
    assert.equal(src.state, 'open');
    ep.opens[0].write('id: 41\ndata: a\n\nid: 42\ndata: b\n\n');
    await flush();
    ep.opens[0].close();
    await flush();
    assert.equal(src.state, 'down');
    assert.deepEqual(timers.delays(), [500]);
    timers.advance(500);
    await flush();
    assert.equal(ep.opens.length, 2);
    assert.equal(ep.opens[1].lastId, '42');
    assert.deepEqual(got, ['a', 'b']);
    src.dispose();
  });
  it('stream_failingRepeatedly_waitsLongerEachTime', async () => {
    const timers = new FakeTimers();
    let calls = 0;
    const src = new LiveEventSource({
      open: async () => {
        calls++;
        throw new Error('ECONNREFUSED');
      },
      timers,
      backoff: { random: () => 1 },
    });
    src.start();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await flush();
      delays.push(timers.delays()[0]);
      timers.advance(delays[i]);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
    assert.equal(calls, 5);
    src.dispose();
  });
  it('stream_silentPastIdleTimeout_isAbortedAndReopened', async () => {
    const timers = new FakeTimers();
    const ep = new FakeEndpoint();
    const src = new LiveEventSource({ open: ep.open, timers, idleTimeoutMs: 45_000, backoff: { random: () => 0 } });
    src.start();
    await flush();
    timers.advance(30_000);
    ep.opens[0].write(': ping\n\n');
    await flush();
    timers.advance(30_000); // 30 s after the ping: still alive
    assert.equal(ep.opens[0].signal.aborted, false);
    timers.advance(16_000);
    await flush();
    assert.equal(ep.opens[0].signal.aborted, true);
    timers.advance(500);
    await flush();
    assert.equal(ep.opens.length, 2);
    src.dispose();
  });
  it('stream_unauthorized_stopsForGoodAndReportsTheError', async () => {
    const timers = new FakeTimers();
    const ep = new FakeEndpoint();
    ep.status = 401;
    const states: { state: string; message?: string }[] = [];
    const src = new LiveEventSource({ open: ep.open, errorOf: (r) => ElevateClient.errorOf(r), timers });
    src.onState((s) => states.push({ state: s.state, message: s.error?.message }));
    src.start();
    await flush();
    await flush();
    assert.equal(src.state, 'stopped');
    assert.deepEqual(states.at(-1), { state: 'down', message: 'token revoked' });
    assert.equal(timers.count, 0);
    src.dispose();
  });
  it('dispose_cancelsThePendingReconnect', async () => {
    const timers = new FakeTimers();
    const src = new LiveEventSource({
      open: async () => {
        throw new Error('down');
      },
      timers,
    });
    src.start();
    await flush();
    assert.equal(timers.count, 1);
    src.dispose();
    assert.equal(timers.count, 0);
  });
});
