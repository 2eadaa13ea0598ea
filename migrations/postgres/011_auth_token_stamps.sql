-- Auth: a subject's tokens issued at or before valid_after (microseconds) no longer work. Written
-- when a user's role or password changes, when a user or application is deleted, when an
-- application's secret is rotated, and when an admin retires a service's tokens.
CREATE TABLE auth_token_stamps (
    subject TEXT PRIMARY KEY,
    valid_after BIGINT NOT NULL
);
