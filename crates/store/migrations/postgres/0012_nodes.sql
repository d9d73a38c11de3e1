-- Several nodes on one database (PostgreSQL; SQLite keeps one node, which registers too):
-- which node holds each claimed message, the live nodes and their heartbeats, and named
-- leases for the work that must run on one node at a time.
ALTER TABLE messages ADD COLUMN leased_by TEXT COLLATE "C";

CREATE TABLE nodes (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    http         TEXT COLLATE "C",
    version      TEXT COLLATE "C",
    takeovers    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE leases (
    name     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    node     TEXT COLLATE "C" NOT NULL,
    until_at BIGINT NOT NULL,
    since    BIGINT NOT NULL
);

CREATE INDEX messages_leased ON messages (leased_by) WHERE lease_until IS NOT NULL;
