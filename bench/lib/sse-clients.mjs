// Child process: opens N /v1/events subscriptions (tokens cycled), prints "ready" once all are
// connected, then records when each one receives the first event of type argv[4] and prints
// {arrivals: [ms epoch...]} once all have it (or after the time limit).
import http from 'node:http';
import { subscribe } from './sse.mjs';

const [url, tokensJson, countArg, type, limitMsArg] = process.argv.slice(2);
const tokens = JSON.parse(tokensJson);
const n = Number(countArg);
const limitMs = Number(limitMsArg ?? 30000);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const arrivals = [];
const sinceCommit = []; // arrival − the event's own `at` (server clock, same machine)
const closers = [];
let done = false;
const finish = () => {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify({ arrivals, sinceCommit }) + '\n');
  for (const c of closers) c();
  setTimeout(() => process.exit(0), 100);
};
// open in small waves so the server's accept queue is not the thing measured
for (let i = 0; i < n; i += 50) {
  const wave = [];
  for (let j = i; j < Math.min(n, i + 50); j++) {
    let got = false;
    wave.push(
      subscribe(url, tokens[j % tokens.length], {
        agent,
        onEvent: (e) => {
          if (got || e.event !== type) return;
          got = true;
          arrivals.push(e.receivedAt);
          sinceCommit.push(e.receivedAt - Date.parse(JSON.parse(e.data).at));
          if (arrivals.length === n) finish();
        },
      }).then((close) => closers.push(close)),
    );
  }
  await Promise.all(wave);
}
process.stdout.write('ready\n');
setTimeout(finish, limitMs).unref();
setInterval(() => {}, 1000);
