-- PostgreSQL only (010_outbox_notify.pg.sql): new outbox work wakes every instance's
-- sender through LISTEN/NOTIFY. The SQLite store wakes its sender through a local socket
-- (notifications/wake.py: LocalWake), so nothing is needed here.
SELECT 1;
