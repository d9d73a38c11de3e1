-- smsgate schema v1. Times are Unix milliseconds; ids are UUIDv7 text (sortable).

CREATE TABLE messages (
    id              TEXT PRIMARY KEY NOT NULL,
    api_key_id      TEXT,
    to_number       TEXT NOT NULL,
    from_id         TEXT,
    body            TEXT NOT NULL,
    encoding        TEXT NOT NULL,
    segments        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    callback_url    TEXT,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    send_at         INTEGER NOT NULL,
    expires_at      INTEGER,
    -- When the dispatcher should next try; NULL once the message left the queue.
    next_attempt_at INTEGER,
    -- Set while a connector holds the message; a non-NULL value at start-up means a crash.
    lease_until     INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    connector       TEXT,
    error_code      TEXT,
    error_message   TEXT
);
CREATE UNIQUE INDEX messages_idempotency ON messages (api_key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_due ON messages (priority DESC, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL;
CREATE INDEX messages_next ON messages (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL;
CREATE INDEX messages_in_flight ON messages (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX messages_status ON messages (status, id);
CREATE INDEX messages_to ON messages (to_number, id);
CREATE INDEX messages_key ON messages (api_key_id, id);

-- One row per SMS part handed to the network, for delivery receipts.
CREATE TABLE message_parts (
    message_id  TEXT NOT NULL,
    part_no     INTEGER NOT NULL,
    connector   TEXT NOT NULL,
    remote_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    error_code  TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, part_no)
);
CREATE INDEX message_parts_remote ON message_parts (connector, remote_id);

-- Receipts that arrived before their submit was recorded.
CREATE TABLE orphan_receipts (
    connector   TEXT NOT NULL,
    remote_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    error_code  TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (connector, remote_id)
);

-- The timeline of every message and the outbox webhooks fan out from.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event       TEXT,
    message_id  TEXT,
    kind        TEXT NOT NULL,
    status      TEXT,
    detail      TEXT,
    data        TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX events_message ON events (message_id, seq) WHERE message_id IS NOT NULL;

CREATE TABLE inbound_messages (
    id          TEXT PRIMARY KEY NOT NULL,
    from_number TEXT NOT NULL,
    to_number   TEXT NOT NULL,
    body        TEXT NOT NULL,
    connector   TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    incomplete  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbound_from ON inbound_messages (from_number, id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY NOT NULL,
    api_key_id  TEXT,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    webhook_id      TEXT,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';

CREATE TABLE kv (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
