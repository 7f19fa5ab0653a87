// The advisory locks Elevate takes, as (class, key) pairs: the class keeps them apart from any
// advisory lock another application on the same database may use.
/** 'ELEV' as a 32-bit integer */
export const LOCK_CLASS = 0x454c4556;
/** held (session) while migrating */
export const LOCK_MIGRATE = 0;
/** held (transaction) from an audit append to commit: one appender at a time, seq in commit order */
export const LOCK_AUDIT = 1;
/** Store.once(name) takes (LOCK_ONCE_CLASS, hashtext(name)) */
export const LOCK_ONCE_CLASS = 0x454c4557;
