-- 003: delivery receipts that arrive before the sender recorded the message ids they
-- name (an SMSC may send the receipt before our submit_sm_resp bookkeeping commits).
-- They wait here and are applied when the ids are recorded.
CREATE TABLE early_receipts (
    channel     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    state       TEXT NOT NULL,
    whole       INTEGER NOT NULL DEFAULT 0,
    at          TEXT NOT NULL,
    PRIMARY KEY (channel, message_id)
);
