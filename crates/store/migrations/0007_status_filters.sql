-- smsgate schema v7: status filters for webhooks (issue 13). A subscription or a message's
-- callback URL may name the `message.status` statuses it wants (a JSON list of status names);
-- NULL means every status, as before.
ALTER TABLE webhooks ADD COLUMN statuses TEXT;
ALTER TABLE messages ADD COLUMN callback_statuses TEXT;
