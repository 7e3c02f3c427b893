-- 007: staff accounts of the web workspace (docs/interfaces.md §12) and their failed
-- logins. Passwords are stored only as argon2 hashes (the PHC string argon2-cffi makes).
-- Failed logins live here, not in a process, so that several instances of one gateway
-- rate-limit a login or an address together.
CREATE TABLE staff_accounts (
    id             INTEGER PRIMARY KEY,
    login          TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('operator', 'supervisor')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    disabled_at    TEXT
);
CREATE UNIQUE INDEX staff_accounts_login ON staff_accounts (login);

CREATE TABLE staff_login_failures (
    id        INTEGER PRIMARY KEY,
    login     TEXT NOT NULL,
    address   TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX staff_login_failures_login ON staff_login_failures (login, at);
CREATE INDEX staff_login_failures_address ON staff_login_failures (address, at);
