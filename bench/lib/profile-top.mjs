// Summarises a .cpuprofile (node --cpu-prof): top functions by self time, and self time per
// source file. Usage: node bench/lib/profile-top.mjs FILE [N]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const dt = new Map();
for (let i = 0; i < prof.samples.length; i++) dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const total = [...dt.values()].reduce((a, b) => a + b, 0);
const self = new Map();
const files = new Map();
for (const [id, us] of dt) {
  const cf = byId.get(id).callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(node_modules\/)?/, '$1')}:${cf.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + us);
  const f = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, 'nm/') : `(${cf.functionName})`;
  files.set(f, (files.get(f) ?? 0) + us);
}
const show = (m) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`total ${(total / 1e6).toFixed(2)} s sampled\n\n-- self time by function --\n${show(self)}\n\n-- self time by file --\n${show(files)}`);

// inclusive time of named functions (argv[4]: comma-separated names), counted once per stack
const names = (process.argv[4] ?? '').split(',').filter(Boolean);
if (names.length) {
  const parent = new Map();
  for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const incl = new Map(names.map((k) => [k, 0]));
  for (const [id, us] of dt) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = byId.get(cur).callFrame.functionName;
      if (incl.has(fn) && !seen.has(fn)) {
        seen.add(fn);
        incl.set(fn, incl.get(fn) + us);
      }
    }
  }
  console.log('\n-- inclusive time --');
  for (const [k, us] of incl) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}
