-- 004: the e-mail channel (docs/interfaces.md §14). The registry's e-mail addresses of an
-- account (the optional `emails` column of the customer file), lower case. An e-mail
-- sender is linked to the account only when its address is here and the company relay
-- vouches for it (dmarc=pass); the check is made per message, so nothing else is stored.
CREATE TABLE account_emails (
    account  TEXT NOT NULL REFERENCES accounts (number) ON DELETE CASCADE,
    email    TEXT NOT NULL,
    PRIMARY KEY (account, email)
);
CREATE INDEX account_emails_email ON account_emails (email);
