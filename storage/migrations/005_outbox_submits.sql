-- A journal of every SMS part's submit, written BEFORE the part goes on the wire
-- (docs/architecture.md, the outbox). A restart then re-sends only what was truly in
-- flight: parts 'submitted' (the SMSC answered with a message id) are never sent again,
-- parts still 'submitting' (sent, no answer recorded) are the possible duplicates, and
-- rows claimed but never submitted go out once.
CREATE TABLE outbox_submits (
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    part        INTEGER NOT NULL,              -- 1-based
    parts       INTEGER NOT NULL,
    reference   INTEGER NOT NULL,              -- concatenation reference shared by the parts
    state       TEXT NOT NULL CHECK (state IN ('submitting', 'submitted', 'refused')),
    message_id  TEXT,                          -- the SMSC's id once 'submitted'
    at          TEXT NOT NULL,                 -- when it was (last) about to be submitted
    PRIMARY KEY (outbox_id, part)
);

-- Recipients who may have got a message twice (a part re-sent after a submit that went
-- unanswered): counted per campaign as `possible_duplicates`, outside the states' sum.
ALTER TABLE outbox ADD COLUMN possible_duplicate INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_lease ON outbox (status, lease_until);

-- Early receipts expire (a setting), so the oldest are found by time.
CREATE INDEX early_receipts_at ON early_receipts (at);
