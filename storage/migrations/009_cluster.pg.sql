-- Several instances on one PostgreSQL store (docs/interfaces.md §13, docs/operations.md
-- "Several instances").

-- Presence: each `gateway run` upserts its row every `[service] heartbeat_seconds`; an
-- instance is live while its heartbeat is younger than three periods (storage/cluster.py).
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,                 -- [service] instance_id
    started_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

-- Parts of concatenated MO SMS, shared by every bind of every instance, so a long SMS
-- whose parts arrived on different binds is reassembled once (sms_gateway/fragments_pg.py).
CREATE TABLE IF NOT EXISTS sms_fragments (
    key TEXT NOT NULL,                   -- source|destination|reference|total
    seq INTEGER NOT NULL,
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    data BYTEA NOT NULL,
    data_coding INTEGER NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key, seq)
);

-- The "seen" ledger of handled messages' digests (duplicate suppression, shared).
CREATE TABLE IF NOT EXISTS sms_seen (
    digest TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    noted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_seen_noted ON sms_seen (noted_at);
