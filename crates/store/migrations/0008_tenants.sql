-- smsgate schema v8: tenants, scoped keys and the audit log (issue 15).
--
-- Every key belongs to a tenant and every message, inbound message and webhook to one; a key
-- sees only its tenant's objects (admin keys see all). Before v8 a non-admin key saw only its
-- own objects, so each existing non-admin key becomes a tenant of its own (named after the
-- key): nobody sees more after the upgrade than before. Admin keys and everything without a
-- key (SMPP accounts, the IoT engine, config) belong to `default`.
CREATE TABLE tenants (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    -- JSON list of the `from` values its keys may send with; NULL: any.
    sender_ids     TEXT,
    -- Messages it may have waiting (queued or retrying) at once; NULL: no quota.
    queue_quota    INTEGER,
    -- JSON list of recipient numbers or prefixes (`+4930*`) whose inbound SMS are its.
    inbound        TEXT,
    -- JSON list of CIDR networks its webhooks may reach beyond the public internet.
    allow_networks TEXT,
    created_at     INTEGER NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES ('default', 'default', 0);
INSERT INTO tenants (id, name, created_at)
    SELECT id, name, created_at FROM api_keys WHERE admin = 0;

ALTER TABLE api_keys ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
-- JSON list of scopes; NULL (keys from before v8): every scope but `admin`.
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
-- Requests per second this key may make; NULL: unlimited.
ALTER TABLE api_keys ADD COLUMN rate_limit REAL;
UPDATE api_keys SET tenant = id WHERE admin = 0;

ALTER TABLE messages ADD COLUMN tenant TEXT;
UPDATE messages SET tenant = CASE
    WHEN api_key_id IN (SELECT id FROM api_keys WHERE admin = 0) THEN api_key_id
    ELSE 'default' END;
CREATE INDEX messages_tenant ON messages (tenant, id);
CREATE INDEX messages_tenant_waiting ON messages (tenant) WHERE next_attempt_at IS NOT NULL;

-- NULL: a subscription of an admin key, which gets every tenant's events.
ALTER TABLE webhooks ADD COLUMN tenant TEXT;
UPDATE webhooks SET tenant = api_key_id;

-- NULL: nobody claimed it (admin keys only).
ALTER TABLE inbound_messages ADD COLUMN tenant TEXT;
CREATE INDEX inbound_tenant ON inbound_messages (tenant, id);

-- The tenant a stored delivery is made for, whose reach applies on retry; NULL: an admin's.
ALTER TABLE webhook_deliveries ADD COLUMN tenant TEXT;

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    key_id  TEXT,
    tenant  TEXT,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT
);
