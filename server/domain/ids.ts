import { randomFillSync } from 'node:crypto';

// Random bytes are drawn from the CSPRNG in 4 KiB blocks: one call per id costs ~3 µs, more
// than the INSERT that stores it.
const pool = Buffer.alloc(4096);
let used = pool.length;
function random12(): string {
  if (used + 12 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const s = pool.toString('base64url', used, used + 12);
  used += 12;
  return s;
}

/**
 * Unguessable ids with a readable prefix: req_, grt_, tok_. Twelve hex digits of the creation
 * time (ms) come first, so ids sort by creation and new rows land at the right edge of the id
 * indexes instead of on a random page (a commit then writes a few pages, not one per row and
 * index); then 96 random bits (16 base64url characters) make them unguessable.
 */
export const newId = (prefix: string): string => `${prefix}_${Date.now().toString(16).padStart(12, '0')}${random12()}`;
