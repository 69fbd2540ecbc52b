-- API tokens get a lifetime, a last use and their creator. Every token
-- made before this was made with the CLI, whose actor is `cli`.

ALTER TABLE api_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;
