-- smsgate schema v13: inbound rules made through /v1/inbound-rules (the twin of the SQLite
-- migration 0013).
CREATE TABLE inbound_rules (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    owner      TEXT COLLATE "C",
    rule       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX inbound_rules_order ON inbound_rules (created_at, id);
