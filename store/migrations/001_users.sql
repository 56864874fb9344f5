-- Staff who use the register, and their API tokens. Emails are kept in
-- lower case so that every lookup by email is exact.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email <> '' AND email = lower(email)),
    name          text NOT NULL CHECK (name <> ''),
    role          text NOT NULL CHECK (role IN ('coordinator', 'professional', 'manager', 'commissioner', 'auditor')),
    team          text NOT NULL DEFAULT '',
    manager_email text NOT NULL DEFAULT '' CHECK (manager_email = lower(manager_email)),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- On lower(email) so that queries written lower(email) = lower($1) use it.
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_role ON users (role);

-- Only the SHA-256 of a token is stored: a copy of this table does not let
-- anyone sign in.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);

---- create above / drop below ----

DROP TABLE api_tokens;
DROP TABLE users;
