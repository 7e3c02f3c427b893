-- New outbox work wakes the sender of every instance at once (notifications/wake.py:
-- PgWake listens on the channel `gateway_outbox`). A trigger, not the enqueueing code,
-- so that every writer (the service, the CLI, a campaign, psql) is covered. NOTIFY is
-- delivered at commit, and identical notifications of one transaction are folded into
-- one, so a campaign of 100 000 rows wakes each sender once.
CREATE OR REPLACE FUNCTION gateway_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_outbox', '');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outbox_inserted_notify ON outbox;
CREATE TRIGGER outbox_inserted_notify
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION gateway_outbox_notify();

-- A row queued again (a campaign approved, a message rerouted to SMS, a retry): only the
-- transition into 'queued', so the senders' own claims and results wake nobody.
DROP TRIGGER IF EXISTS outbox_requeued_notify ON outbox;
CREATE TRIGGER outbox_requeued_notify
    AFTER UPDATE OF status ON outbox
    FOR EACH ROW
    WHEN (NEW.status = 'queued' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION gateway_outbox_notify();
