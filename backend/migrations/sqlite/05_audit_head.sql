-- The audit head moves into the database, in the same transaction as each append
-- (see `crate::audit`); `init_audit_head` sets it to the newest event. The head
-- file beside the database stays, as the anchor outside it.

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    mac TEXT NOT NULL
);
CREATE INDEX idempotency_created ON idempotency_keys(created_at);
