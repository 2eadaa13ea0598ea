-- User: failed sign-ins counted per account and client address, so that a stranger elsewhere
-- cannot lock the owner out, and the same for addresses that have no account (an answer does not
-- tell which e-mail addresses exist). Replaces the counters kept on the user.
CREATE TABLE signin_attempts (
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, address)
);
CREATE INDEX signin_attempts_updated ON signin_attempts (updated_at);
ALTER TABLE users DROP COLUMN failed_signins;
ALTER TABLE users DROP COLUMN locked_until;
