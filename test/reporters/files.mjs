// A node:test reporter that holds every test file to running at least one test. node's own
// reporters count tests, not files, so a file whose tests were all skipped, or that registered
// none (a guard that returned early, a describe left empty), looks like a pass. This one
// remembers each file the runner was given and, at the end, prints one line per file that ran
// no test ("✖ no test ran in <file>") and a count ("ℹ files without a test N") that
// test/run.mjs adds to the failures. Skipped and todo tests do not count as run.
import { relative } from 'node:path';

export default async function* filesReporter(source) {
  const ran = new Map(); // file -> tests that passed or failed
  for await (const event of source) {
    const { type, data } = event;
    // with process isolation each file is first queued as a test named by its own path
    if (type === 'test:enqueue' && data.file && data.name === data.file && !ran.has(data.file)) ran.set(data.file, 0);
    if ((type === 'test:pass' || type === 'test:fail') && data.file) {
      const isSuite = data.details?.type === 'suite';
      const isFileItself = data.name === data.file;
      if (!ran.has(data.file)) ran.set(data.file, 0);
      if (!isSuite && !isFileItself && !data.skip && !data.todo) ran.set(data.file, ran.get(data.file) + 1);
    }
  }
  const empty = [...ran].filter(([, n]) => n === 0).map(([f]) => relative(process.cwd(), f));
  for (const f of empty) yield `✖ no test ran in ${f}\n`;
  yield `ℹ files without a test ${empty.length}\n`;
}
