-- smsgate schema v10: consent records (issue 16). A tenant with `require_consent` may send
-- only to numbers with a recorded opt-in (a JOIN or START by reply, or through the API).
CREATE TABLE consents (
    tenant     TEXT NOT NULL,
    number     TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, number)
);
ALTER TABLE tenants ADD COLUMN require_consent INTEGER NOT NULL DEFAULT 0;
