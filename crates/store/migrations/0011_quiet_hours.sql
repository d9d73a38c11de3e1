-- smsgate schema v11: a tenant's quiet hours (issue 16), "21:00-08:00" in the recipient's
-- local time; NULL: none.
ALTER TABLE tenants ADD COLUMN quiet_hours TEXT;
