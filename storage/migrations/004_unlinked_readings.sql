-- Readings from senders not linked to the account (docs/architecture.md «Identification»).
-- A stranger's reading never replaces a linked contact's: the two are separate lanes
-- (`linked`), and the export names the linked one whenever there is one for the key.
ALTER TABLE readings ADD COLUMN linked INTEGER NOT NULL DEFAULT 1;  -- 1 linked, 0 not

-- Every submission of readings from a sender not linked to the named account: the
-- per-sender probing limits count these rows, and staff check the held ones.
-- outcome: accepted (stored as an unlinked reading), held (not stored: unknown account,
-- a value lower than the last, an unusual consumption, zones or meters that do not fit;
-- for staff), limited (refused: the sender exceeded a limit).
CREATE TABLE unlinked_submissions (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL,
    address      TEXT NOT NULL,
    sender       TEXT NOT NULL,                 -- as in the readings export
    account      TEXT NOT NULL,                 -- as the sender wrote it
    text         TEXT NOT NULL,                 -- the message, for staff
    outcome      TEXT NOT NULL CHECK (outcome IN ('accepted', 'held', 'limited')),
    reason       TEXT NOT NULL DEFAULT '',
    received_at  TEXT NOT NULL,
    inbound_id   INTEGER
);
CREATE INDEX unlinked_submissions_sender ON unlinked_submissions (channel, address, received_at);
CREATE INDEX unlinked_submissions_account ON unlinked_submissions (account, received_at);
CREATE INDEX unlinked_submissions_outcome ON unlinked_submissions (outcome, received_at);
