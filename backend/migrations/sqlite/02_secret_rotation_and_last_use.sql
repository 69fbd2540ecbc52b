-- When the current secret was made, and the coarse time of last use.

ALTER TABLE clients ADD COLUMN secret_rotated_at INTEGER NOT NULL DEFAULT 0;
UPDATE clients SET secret_rotated_at = created_at;
ALTER TABLE clients ADD COLUMN last_used_at INTEGER;
