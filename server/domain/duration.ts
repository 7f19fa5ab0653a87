// The policy file's duration grammar lives in server/protocol/duration.ts (shared with the
// extension, which has its own grammar for what people type); the server's names for it.
export {
  MAX_DURATION_SECONDS,
  formatPolicyDuration as formatDuration,
  parsePolicyDuration as parseDuration,
  parsePolicyDurationOrZero as parseDurationOrZero,
} from '../protocol/duration.js';
