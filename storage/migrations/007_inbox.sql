-- 007: the inbox (people behind the bot), the audit log, appeal answers as a history.
-- Timestamps are UTC ISO-8601 strings as in 001 (storage.db.to_db). Portable SQL only:
-- the same statements run on PostgreSQL, where 007_inbox.pg.sql gives identity keys.

-- One thread per contact while it is not closed: what the bot could not act on, requests
-- for a person, and appeals; later messages of the contact join it.
CREATE TABLE inbox_threads (
    id              INTEGER PRIMARY KEY,
    contact_id      INTEGER NOT NULL REFERENCES contacts (id),
    channel         TEXT NOT NULL,              -- where the customer wrote from (replies go there)
    address         TEXT NOT NULL,
    reply_source    TEXT,                       -- SMS: the number the customer wrote to
    kind            TEXT NOT NULL CHECK (kind IN ('unrecognised', 'handover', 'appeal')),
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'closed')),
    due_at          TEXT,                       -- never NULL for unrecognised and handover
    appeal_id       INTEGER REFERENCES appeals (id),
    first_message_id INTEGER,                   -- the first message the bot could not handle
    label           TEXT,                       -- JSON: the parse fields a person assigned
    labelled_by     TEXT,
    acknowledged_at TEXT,                       -- the «специалист ответит до …» went out
    text            TEXT NOT NULL DEFAULT '',   -- the latest customer message
    received_at     TEXT NOT NULL,              -- … and when it came
    created_at      TEXT NOT NULL,
    answered_at     TEXT,
    answered_by     TEXT,
    closed_at       TEXT,
    closed_by       TEXT,
    -- 1 while the thread is not closed, NULL after: the unique index below keeps one
    -- live thread per contact (NULLs never collide, in SQLite and PostgreSQL alike).
    live            INTEGER DEFAULT 1 CHECK (live IS NULL OR live = 1)
);
CREATE UNIQUE INDEX inbox_threads_live ON inbox_threads (contact_id, live);
CREATE INDEX inbox_threads_state ON inbox_threads (state, due_at, received_at);
CREATE INDEX inbox_threads_appeal ON inbox_threads (appeal_id);

-- Both directions of a thread: customer messages, the bot's replies, staff answers.
CREATE TABLE inbox_messages (
    id           INTEGER PRIMARY KEY,
    thread_id    INTEGER NOT NULL REFERENCES inbox_threads (id),
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    author       TEXT NOT NULL,                 -- customer | bot | staff login | api | telegram:<id>
    text         TEXT NOT NULL,
    at           TEXT NOT NULL,
    handled      INTEGER NOT NULL DEFAULT 1,    -- 0: the bot could not act on it (inbound)
    inbound_id   INTEGER REFERENCES inbound (id),
    outbox_id    INTEGER REFERENCES outbox (id),
    attachment   TEXT,                          -- JSON: kind, file name, size, mime type
    -- The file itself, up to [staff] attachment_max_mb, kept once staff first open it.
    -- The one type that differs on PostgreSQL: BYTEA there (the driver passes bytes).
    attachment_data BLOB
);
CREATE INDEX inbox_messages_thread ON inbox_messages (thread_id, id);
-- Processing one inbound message again after a crash adds nothing.
CREATE UNIQUE INDEX inbox_messages_inbound ON inbox_messages (inbound_id) WHERE direction = 'in';
CREATE UNIQUE INDEX inbox_messages_outbox ON inbox_messages (outbox_id) WHERE outbox_id IS NOT NULL;

-- Append-only: who did what to which thing, and when.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    actor    TEXT NOT NULL,                     -- staff login | api | telegram:<id> | cli:<user>
    action   TEXT NOT NULL,                     -- inbox.reply, inbox.close, appeal.answer, …
    subject  TEXT NOT NULL,                     -- inbox:12, appeal:7, outage:3 …
    details  TEXT NOT NULL DEFAULT '{}',        -- JSON
    at       TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_at ON audit_log (at);

-- Staff answers to appeals, every one (the appeals row keeps the latest for «статус N»).
CREATE TABLE appeal_answers (
    id          INTEGER PRIMARY KEY,
    appeal_id   INTEGER NOT NULL REFERENCES appeals (id),
    text        TEXT NOT NULL,
    answered_by TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX appeal_answers_appeal ON appeal_answers (appeal_id, id);
INSERT INTO appeal_answers (appeal_id, text, answered_by, at)
    SELECT id, answer, COALESCE(answered_by, ''), COALESCE(answered_at, created_at)
    FROM appeals WHERE answer IS NOT NULL;

-- Appeals still open when the inbox arrives are inbox items too: one thread per contact,
-- for its newest open appeal (the others are answered through `gateway appeals answer`,
-- which opens their thread then).
INSERT INTO inbox_threads (contact_id, channel, address, reply_source, kind, state, due_at,
                           appeal_id, acknowledged_at, text, received_at, created_at)
    SELECT a.contact_id, a.channel, a.address, a.reply_source, 'appeal', 'open', a.due_at,
           a.id, a.created_at, a.text, a.created_at, a.created_at
    FROM appeals a
    WHERE a.status = 'open'
      AND a.id = (SELECT MAX(b.id) FROM appeals b
                  WHERE b.contact_id = a.contact_id AND b.status = 'open');
INSERT INTO inbox_messages (thread_id, direction, author, text, at, handled)
    SELECT id, 'in', 'customer', text, received_at, 0 FROM inbox_threads;
UPDATE inbox_threads SET first_message_id =
    (SELECT MIN(m.id) FROM inbox_messages m WHERE m.thread_id = inbox_threads.id);

-- A reading a person typed for the customer (from a photo, a call): who typed it. The
-- reading keeps the customer's channel and sender; the export adds "entered_by".
ALTER TABLE readings ADD COLUMN entered_by TEXT;
