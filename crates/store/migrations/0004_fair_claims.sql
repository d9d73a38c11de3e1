-- smsgate schema v4: claims are fair between API keys (see `sqlite/claim.rs`).
--
-- The dispatcher finds which keys have waiting messages at a priority by a loose index scan
-- (`SELECT MIN(api_key_id) ... WHERE priority = ? AND api_key_id > ?`, one seek per key) and
-- takes each key's oldest due messages by a range seek on `(priority, api_key_id,
-- next_attempt_at)`. Both are plain B-tree seeks on a partial index, which PostgreSQL serves
-- the same way (a PostgreSQL backend adds `FOR UPDATE SKIP LOCKED` to the per-key take).
-- Messages without a key (`api_key_id IS NULL`) share as one more group.
CREATE INDEX messages_fair ON messages (priority, api_key_id, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL;

-- The claim no longer reads the queue in one global order.
DROP INDEX messages_due;
