-- Access: the audit log becomes append-only, it records what concerns no
-- record (reading the audit log, signing in and out), and staff browser
-- sessions are kept server-side.

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN
    ('read', 'list', 'export', 'create', 'change', 'refused', 'audit', 'signin', 'signout'));

-- Append-only whatever role the application connects as: the table's owner
-- keeps its privileges whatever is revoked, so a trigger refuses the
-- statements themselves. Statement-level, so an UPDATE or DELETE that
-- matches no row is refused as well.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- Who did what, by email as well as by id: a user may be filtered by either.
CREATE INDEX audit_user_email ON audit_log (lower(user_email), at);

-- Browser sessions: only the SHA-256 of the cookie's random id is kept, so
-- a copy of this table signs no one in.
CREATE TABLE web_sessions (
    hash         bytea PRIMARY KEY CHECK (length(hash) = 32),
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    via          text NOT NULL CHECK (via IN ('oidc', 'dev')),
    client_addr  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

---- create above / drop below ----

DROP TABLE web_sessions;
DROP INDEX audit_user_email;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN
    ('read', 'list', 'export', 'create', 'change', 'refused'));
