-- The audit chain becomes keyed: existing events are verified under the old plain
-- SHA-256 scheme and re-chained under the server key by `rechain`.

