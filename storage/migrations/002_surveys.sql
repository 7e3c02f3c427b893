-- 002: satisfaction surveys (docs/architecture.md: «surveys of satisfaction twice a year», one
-- questionnaire per customer group). A survey is sent as a campaign of kind 'survey'
-- (the sender defers it in quiet hours like any bulk notice); answers are collected in
-- the conversation, one question after another.

CREATE TABLE surveys (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    intro        TEXT NOT NULL DEFAULT '',     -- first line of the first message
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent', 'closed')),
    days         INTEGER NOT NULL DEFAULT 14,  -- answers are taken this long after sending
    campaign_id  INTEGER REFERENCES campaigns (id),
    created_at   TEXT NOT NULL,
    sent_at      TEXT,
    closes_at    TEXT
);

-- One questionnaire per customer group (accounts.segment): household | business
CREATE TABLE survey_questions (
    id         INTEGER PRIMARY KEY,
    survey_id  INTEGER NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    segment    TEXT NOT NULL CHECK (segment IN ('household', 'business')),
    position   INTEGER NOT NULL,               -- 0, 1, … within the questionnaire
    text       TEXT NOT NULL,
    scale      TEXT NOT NULL CHECK (scale IN ('score', 'yesno')),  -- 1–5 | да/нет
    UNIQUE (survey_id, segment, position)
);

-- A person asked (a phone, on its preferred channel), with the conversation it is in
CREATE TABLE survey_recipients (
    id            INTEGER PRIMARY KEY,
    survey_id     INTEGER NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    segment       TEXT NOT NULL,
    phone         TEXT NOT NULL,               -- E.164: the person
    account       TEXT,
    channel       TEXT NOT NULL,               -- where the questions go: sms | telegram
    address       TEXT NOT NULL,
    sent_at       TEXT NOT NULL,               -- queued in the outbox
    completed_at  TEXT,
    UNIQUE (survey_id, phone)
);
CREATE INDEX survey_recipients_conversation ON survey_recipients (channel, address);

CREATE TABLE survey_answers (
    id            INTEGER PRIMARY KEY,
    recipient_id  INTEGER NOT NULL REFERENCES survey_recipients (id) ON DELETE CASCADE,
    question_id   INTEGER NOT NULL REFERENCES survey_questions (id) ON DELETE CASCADE,
    value         INTEGER NOT NULL,            -- 1..5, or 1 = да / 0 = нет
    answered_at   TEXT NOT NULL,
    UNIQUE (recipient_id, question_id)
);
