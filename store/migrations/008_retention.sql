-- Retention: the daily run that deletes closed episodes past
-- DSR_RETAIN_CLOSED_FOR audits itself ('retention', counts only), and keeps
-- anonymised counts of what it deleted: per month the episode closed, its
-- status and its last rating, no id, nothing about the person.

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN
    ('read', 'list', 'export', 'create', 'change', 'refused', 'audit', 'signin', 'signout', 'retention'));

CREATE TABLE retention_deleted (
    closed_month date NOT NULL,
    status       text NOT NULL,
    rating       text NOT NULL DEFAULT '',
    episodes     int NOT NULL CHECK (episodes > 0),
    PRIMARY KEY (closed_month, status, rating)
);

---- create above / drop below ----

DROP TABLE retention_deleted;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN
    ('read', 'list', 'export', 'create', 'change', 'refused', 'audit', 'signin', 'signout'));
