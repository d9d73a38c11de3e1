-- smsgate schema v14: binary SMS (issue 18). A message with `data_coding` set is 8-bit data:
-- `body` holds its octets as hex, `udh` the information elements its sender put in the user
-- data header (ports, ...; hex, without the UDHL octet), `data_coding` the SMPP/TP-DCS octet.
ALTER TABLE messages ADD COLUMN udh TEXT;
ALTER TABLE messages ADD COLUMN data_coding BIGINT;
