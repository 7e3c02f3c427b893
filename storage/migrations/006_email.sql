-- 006: the e-mail channel (docs/interfaces.md §14). The registry's e-mail addresses of an
-- account (the optional `emails` column of the customer file), lower case. An e-mail
-- sender is linked to the account only when its address is here and the company relay
-- vouches for it (dmarc=pass); the check is made per message, so nothing else is stored.
CREATE TABLE account_emails (
    account  TEXT NOT NULL REFERENCES accounts (number) ON DELETE CASCADE,
    email    TEXT NOT NULL,
    PRIMARY KEY (account, email)
);
CREATE INDEX account_emails_email ON account_emails (email);

-- The channel a person chose for notices («уведомления по почте»). A person is a phone
-- number (as in campaigns); `address` is where on that channel (the e-mail address, the
-- Telegram or MAX user id; the phone itself for SMS).
CREATE TABLE notice_channels (
    phone      TEXT PRIMARY KEY,              -- E.164
    channel    TEXT NOT NULL CHECK (channel IN ('sms', 'telegram', 'max', 'email')),
    address    TEXT NOT NULL,
    chosen_at  TEXT NOT NULL
);

-- A copy of a notice the law requires by SMS (debt, restriction), sent also to the
-- channel the person chose: not a recipient of its own, no evidence, no SMS fallback
-- (the SMS row is the notice). Campaign counts and lists skip copies.
ALTER TABLE outbox ADD COLUMN copy INTEGER NOT NULL DEFAULT 0;

-- When the contact last wrote to us: without a chosen channel, notices go to the
-- messenger the person wrote from last (docs/interfaces.md §14).
ALTER TABLE contacts ADD COLUMN last_inbound_at TEXT;
