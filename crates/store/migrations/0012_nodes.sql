-- Several nodes on one database (PostgreSQL; SQLite keeps one node, which registers too):
-- which node holds each claimed message, the live nodes and their heartbeats, and named
-- leases for the work that must run on one node at a time.
ALTER TABLE messages ADD COLUMN leased_by TEXT;

CREATE TABLE nodes (
    id           TEXT PRIMARY KEY NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    http         TEXT,
    version      TEXT,
    takeovers    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE leases (
    name     TEXT PRIMARY KEY NOT NULL,
    node     TEXT NOT NULL,
    until_at INTEGER NOT NULL,
    since    INTEGER NOT NULL
);

CREATE INDEX messages_leased ON messages (leased_by) WHERE lease_until IS NOT NULL;
