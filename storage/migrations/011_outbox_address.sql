-- One recipient's outbox rows by (channel, address): several instances on PostgreSQL keep
-- one recipient's messages in order by looking at the earlier rows of the addresses they
-- claim (storage/outbox.py, `claim`); `sent_to` reads by the same key.
CREATE INDEX outbox_address ON outbox (channel, address, id);
