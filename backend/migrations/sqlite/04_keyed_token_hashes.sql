-- API tokens stored as `HMAC(token key, SHA-256(token))` under a key derived from
-- the server key instead of a bare SHA-256, so that someone who can write the
-- database cannot add a token of their own making. The stored SHA-256 is the inner
-- digest, so `rehash_tokens` converts every existing row in place and existing
-- tokens keep working.

ALTER TABLE api_tokens RENAME COLUMN token_sha256 TO token_hmac;
