-- 001: the core schema. Timestamps are UTC ISO-8601 strings ("2026-11-26T10:00:00.000000+00:00"),
-- so that string order is time order; money and readings are decimal strings (exact).

-- Registry (from billing) -------------------------------------------------------------
CREATE TABLE accounts (
    number          TEXT PRIMARY KEY,          -- лицевой счёт, digits, leading zeros kept
    holder          TEXT NOT NULL DEFAULT '',
    settlement      TEXT NOT NULL DEFAULT '',
    street          TEXT NOT NULL DEFAULT '',
    house           TEXT NOT NULL DEFAULT '',
    apartment       TEXT NOT NULL DEFAULT '',
    -- normalised address keys for outage audiences (lower case, ё→е, no «ул.», «г.»)
    settlement_key  TEXT NOT NULL DEFAULT '',
    street_key      TEXT NOT NULL DEFAULT '',
    house_key       TEXT NOT NULL DEFAULT '',
    balance         TEXT NOT NULL DEFAULT '0',  -- roubles owed; negative = credit
    segment         TEXT NOT NULL DEFAULT 'household',  -- household | business
    updated_at      TEXT NOT NULL
);
CREATE INDEX accounts_address ON accounts (settlement_key, street_key, house_key);

CREATE TABLE account_phones (
    account  TEXT NOT NULL REFERENCES accounts (number) ON DELETE CASCADE,
    phone    TEXT NOT NULL,                    -- E.164
    PRIMARY KEY (account, phone)
);
CREATE INDEX account_phones_phone ON account_phones (phone);

CREATE TABLE meters (
    account     TEXT NOT NULL REFERENCES accounts (number) ON DELETE CASCADE,
    serial      TEXT NOT NULL,
    zones       INTEGER NOT NULL CHECK (zones IN (1, 2, 3)),
    digits      INTEGER NOT NULL CHECK (digits BETWEEN 1 AND 12),
    last_t1     TEXT,                          -- billing's last accepted reading per zone
    last_t2     TEXT,
    last_t3     TEXT,
    last_date   TEXT,                          -- YYYY-MM-DD
    PRIMARY KEY (account, serial)
);

-- Readings accepted by the gateway ------------------------------------------------------
CREATE TABLE readings (
    id           INTEGER PRIMARY KEY,
    account      TEXT NOT NULL,
    meter_serial TEXT NOT NULL,
    zone         TEXT NOT NULL CHECK (zone IN ('T1', 'T2', 'T3')),
    value        TEXT NOT NULL,
    period       TEXT NOT NULL,                -- YYYY-MM
    channel      TEXT NOT NULL,
    sender       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    -- accepted: current; pending: waits for ДА/НЕТ; replaced: superseded by a correction;
    -- rejected: the customer said НЕТ or the confirmation expired
    status       TEXT NOT NULL CHECK (status IN ('accepted', 'pending', 'replaced', 'rejected')),
    inbound_id   INTEGER
);
CREATE INDEX readings_current ON readings (account, meter_serial, zone, period, status);
CREATE INDEX readings_period ON readings (period, status);

-- Contacts: a person on a channel; `phone` is known (SMS) or verified (Telegram) -------
CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL,
    address      TEXT NOT NULL,
    phone        TEXT,                         -- E.164; for Telegram only once verified
    verified_by  TEXT,                         -- sms | contact | code
    verified_at  TEXT,
    display_name TEXT,
    blocked      INTEGER NOT NULL DEFAULT 0,   -- the user blocked the bot
    opted_out    INTEGER NOT NULL DEFAULT 0,   -- «СТОП»: no reminders or surveys
    created_at   TEXT NOT NULL,
    UNIQUE (channel, address)
);
CREATE INDEX contacts_phone ON contacts (phone);

-- SMS codes that link a Telegram user to a phone
CREATE TABLE link_codes (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts (id),
    phone       TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0,
    used        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX link_codes_phone ON link_codes (phone, created_at);
CREATE INDEX link_codes_contact ON link_codes (contact_id, created_at);

-- Failed identification attempts (rate limit against account enumeration)
CREATE TABLE auth_failures (
    id       INTEGER PRIMARY KEY,
    channel  TEXT NOT NULL,
    address  TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX auth_failures_sender ON auth_failures (channel, address, at);

-- Conversation state (pending confirmation, clarification, linking, survey) ------------
CREATE TABLE conversation_state (
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,                 -- JSON
    expires_at  TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel, address)
);

-- Inbound journal: stored before the channel acknowledges ------------------------------
CREATE TABLE inbound (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    address       TEXT NOT NULL,
    payload       TEXT NOT NULL,               -- the Inbound envelope as JSON
    received_at   TEXT NOT NULL,
    processed_at  TEXT,
    error         TEXT,
    UNIQUE (channel, external_id)
);
CREATE INDEX inbound_unprocessed ON inbound (processed_at) WHERE processed_at IS NULL;

-- Outages and appeals -----------------------------------------------------------------
CREATE TABLE outages (
    id              INTEGER PRIMARY KEY,
    settlement      TEXT NOT NULL,
    street          TEXT NOT NULL DEFAULT '',
    houses          TEXT NOT NULL DEFAULT '',  -- "1-15,17,21А" as given
    settlement_key  TEXT NOT NULL,
    street_key      TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL,
    start_at        TEXT NOT NULL,
    until_at        TEXT NOT NULL,
    planned         INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'restored', 'cancelled')),
    created_at      TEXT NOT NULL,
    restored_at     TEXT,
    campaign_id     INTEGER,
    restored_campaign_id INTEGER
);
CREATE INDEX outages_active ON outages (status, settlement_key);

CREATE TABLE appeals (
    id           INTEGER PRIMARY KEY,          -- the ticket number customers see
    contact_id   INTEGER NOT NULL REFERENCES contacts (id),
    channel      TEXT NOT NULL,
    address      TEXT NOT NULL,
    reply_source TEXT,                         -- SMS: the number the customer wrote to
    account      TEXT,
    category     TEXT NOT NULL,
    text         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
    created_at   TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    answered_at  TEXT,
    answer       TEXT,
    answered_by  TEXT,
    repeats      INTEGER NOT NULL DEFAULT 0,   -- further messages joined to this appeal
    outage_id    INTEGER REFERENCES outages (id)
);
CREATE INDEX appeals_contact ON appeals (contact_id, category, status);
CREATE INDEX appeals_created ON appeals (created_at);

CREATE TABLE appeal_messages (
    id          INTEGER PRIMARY KEY,
    appeal_id   INTEGER NOT NULL REFERENCES appeals (id),
    text        TEXT NOT NULL,
    received_at TEXT NOT NULL
);

-- Campaigns and the outbox --------------------------------------------------------------
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,                 -- invoice|debt|outage|restored|reminder|survey|answer
    title       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'building'
                CHECK (status IN ('building', 'active', 'cancelled', 'done')),
    params      TEXT NOT NULL DEFAULT '{}',    -- JSON
    created_at  TEXT NOT NULL,
    recipients  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    payload         TEXT NOT NULL,             -- the Outbound envelope as JSON
    priority        INTEGER NOT NULL,          -- lower goes first: 0 replies, 10 urgent, 20 bulk
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                      'deferred', 'cancelled', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      TEXT NOT NULL,
    lease_until     TEXT,
    valid_until     TEXT,
    campaign_id     INTEGER REFERENCES campaigns (id),
    account         TEXT,                      -- for campaign evidence and paper notices
    phone           TEXT,                      -- the recipient person's phone (E.164)
    idempotency_key TEXT UNIQUE,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    delivered_at    TEXT,
    parts           INTEGER,
    error           TEXT
);
CREATE INDEX outbox_due ON outbox (status, priority, not_before);
CREATE INDEX outbox_campaign ON outbox (campaign_id, status);

CREATE TABLE outbox_message_ids (
    channel     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    state       TEXT,                           -- last delivery state of this part
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX outbox_message_ids_outbox ON outbox_message_ids (outbox_id);
