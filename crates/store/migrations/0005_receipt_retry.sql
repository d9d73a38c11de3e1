-- smsgate schema v5: an `undelivered` receipt may send a message again through the route's
-- next connector (`[[routes]] retry_undelivered`).
--
-- `receipt_retry`: set with each recorded submit whose route allows it and has a connector
-- left; a JSON array of the network error codes that allow the retry (`[]` = any code), NULL
-- when an undelivered receipt is final. `undelivered_via`: a JSON array of the connectors that
-- reported the message undelivered, which the dispatcher skips. Plain TEXT columns, as they
-- would be in PostgreSQL.
ALTER TABLE messages ADD COLUMN receipt_retry TEXT;
ALTER TABLE messages ADD COLUMN undelivered_via TEXT;
