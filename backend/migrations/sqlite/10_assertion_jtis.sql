-- The `jti`s of accepted client assertions, in the database rather than in
-- one process's memory: a replica behind a load balancer, or the registry
-- after a restart, must refuse an assertion any of them already accepted.
-- A row is needed only until its assertion's `exp` (at most five minutes
-- ahead); the index on `expires_at` prunes the rest.

CREATE TABLE assertion_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_expiry ON assertion_jtis(expires_at);
