import { randomBytes } from 'node:crypto';

/** Unguessable ids with a readable prefix: req_, grt_, tok_. */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`;
