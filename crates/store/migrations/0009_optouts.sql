-- smsgate schema v9: opt-outs (issue 16). A recipient who texted STOP (or was added through
-- the API) is not sent to again by the tenant: `sender` is the number or sender id the STOP
-- was sent to, or '' for the whole tenant.
CREATE TABLE optouts (
    tenant     TEXT NOT NULL,
    number     TEXT NOT NULL,
    sender     TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, number, sender)
);
