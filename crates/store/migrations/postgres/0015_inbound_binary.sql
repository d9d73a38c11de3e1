-- smsgate schema v15: inbound binary SMS (issue 18). An inbound SMS with `data_coding` set was
-- 8-bit data: `body` holds its octets as hex, `udh` the sender's header elements (ports, ...).
ALTER TABLE inbound_messages ADD COLUMN udh TEXT;
ALTER TABLE inbound_messages ADD COLUMN data_coding BIGINT;
