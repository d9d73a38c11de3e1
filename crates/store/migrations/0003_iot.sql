-- smsgate schema v3: the IoT engine (devices, contacts, on-call groups, rules, telemetry,
-- alerts, commands, condition clocks). Registry entries and alert/command records are JSON
-- documents (`doc`) with the columns queries filter on beside them, so a PostgreSQL backend
-- keeps the same shape (TEXT or JSONB). The inbound cursor lives in `kv` as 'iot.inbound_cursor'.

CREATE TABLE iot_devices (
    id           TEXT PRIMARY KEY NOT NULL,
    number       TEXT NOT NULL UNIQUE,
    doc          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    last_seen_at INTEGER,
    readings     TEXT NOT NULL DEFAULT '{}',
    readings_at  INTEGER
);

CREATE TABLE iot_contacts (
    id         TEXT PRIMARY KEY NOT NULL,
    number     TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE iot_groups (
    id         TEXT PRIMARY KEY NOT NULL,
    doc        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE iot_rules (
    id         TEXT PRIMARY KEY NOT NULL,
    doc        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Every SMS from a registered device, parsed or not, until telemetry_retention passes.
CREATE TABLE iot_telemetry (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    inbound_id  TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    status      TEXT NOT NULL,
    body        TEXT NOT NULL,
    readings    TEXT NOT NULL,
    reason      TEXT
);
CREATE INDEX iot_telemetry_device ON iot_telemetry (device_id, received_at);
CREATE INDEX iot_telemetry_age ON iot_telemetry (received_at);

CREATE TABLE iot_alerts (
    id         INTEGER PRIMARY KEY NOT NULL,
    rule_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    owner      TEXT,
    raised_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
-- Deduplication, enforced by the database too: one unresolved alert per rule and device.
CREATE UNIQUE INDEX iot_alerts_one_open ON iot_alerts (rule_id, device_id)
    WHERE state <> 'resolved';
CREATE INDEX iot_alerts_state ON iot_alerts (state, id);

CREATE TABLE iot_commands (
    id         INTEGER PRIMARY KEY NOT NULL,
    device_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX iot_commands_device ON iot_commands (device_id, id);
CREATE INDEX iot_commands_outstanding ON iot_commands (state) WHERE state IN ('pending', 'sent');

-- `for` and cooldown clocks of a rule for a device.
CREATE TABLE iot_conditions (
    rule_id          TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    pending_since    INTEGER,
    last_resolved_at INTEGER,
    PRIMARY KEY (rule_id, device_id)
);
