-- The `jti`s of accepted client assertions, shared by every replica so
-- that an assertion accepted by one is refused by all; each row is needed
-- only until its assertion's `exp` (at most five minutes ahead).

CREATE TABLE assertion_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_expiry ON assertion_jtis(expires_at);
