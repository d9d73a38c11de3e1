-- smsgate schema v13: inbound rules made through /v1/inbound-rules (issue 16), tried after the
-- config's [[inbound_rules]] in the order they were made. `owner`: the tenant that made the
-- rule (NULL: an admin); `rule`: its JSON, as POSTed.
CREATE TABLE inbound_rules (
    id         TEXT PRIMARY KEY NOT NULL,
    owner      TEXT,
    rule       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX inbound_rules_order ON inbound_rules (created_at, id);
