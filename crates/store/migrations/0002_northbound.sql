-- Submissions accepted by northbound servers (the SMPP server, `[smpp_server]`): the id each
-- client was told in its response, and the parts of long messages until they are assembled
-- into one message. `data` is the server's own JSON record (addresses as written, receipt
-- wishes, the part's payload); `message_id` is NULL while a part waits for its siblings.
CREATE TABLE northbound_submissions (
    id          TEXT PRIMARY KEY NOT NULL,
    account     TEXT NOT NULL,
    message_id  TEXT,
    part_group  TEXT,
    part_no     INTEGER,
    part_total  INTEGER,
    data        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX northbound_pending ON northbound_submissions (account, part_group, created_at)
    WHERE message_id IS NULL;
CREATE INDEX northbound_message ON northbound_submissions (message_id)
    WHERE message_id IS NOT NULL;
