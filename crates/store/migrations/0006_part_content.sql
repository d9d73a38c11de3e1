-- smsgate schema v6: the content of a waiting part, so that a client reusing a concatenation
-- reference while an older set with that reference is still incomplete starts a new message
-- instead of mixing the two (see `NorthboundStore::submit_part`). NULL for rows from before:
-- they compare as empty content.
ALTER TABLE northbound_submissions ADD COLUMN part_content TEXT;
