// Answers leave together at the end of the event-loop turn in which they were made, not one by
// one as each handler finishes. Under load a turn handles many requests; written in one burst,
// their answers wake each client's reader once, not once per answer. On the 2-core bench machine
// that more than halved the server's CPU per /v1/check (the kernel's wake-ups of the reading
// client had cost more than the request itself). It costs an answer at most the rest of its turn:
// nothing when the server is idle, a fraction of a millisecond under load.

let pending: Promise<void> | null = null;

/** Resolves at the end of the current event-loop turn (its setImmediate phase), once for all callers of the turn. */
export function endOfTurn(): Promise<void> {
  return (pending ??= new Promise((resolve) =>
    setImmediate(() => {
      pending = null;
      resolve();
    }),
  ));
}
