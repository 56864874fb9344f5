-- DSR meetings (issue 13): meeting series per area, the meetings that have
-- something recorded (moved, cancelled, extra, planned, held), each
-- meeting's agenda with the outcome per person (the minutes), the risk
-- tool's answers beside a review, and each user's private calendar feed.

CREATE TABLE meeting_series (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,40}$'),
    name           text NOT NULL CHECK (name <> ''),
    locality       text NOT NULL DEFAULT '',
    schedule       text NOT NULL,
    capacity       int NOT NULL DEFAULT 0 CHECK (capacity BETWEEN 0 AND 200),
    length_minutes int NOT NULL DEFAULT 0 CHECK (length_minutes BETWEEN 0 AND 720),
    attendees      text[] NOT NULL DEFAULT '{}',
    place          text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A meeting row exists once something is recorded for it. id is stable
-- (series and original slot, or an extra meeting's own), and so is the
-- invitation's UID; sequence is raised on every change to the invitation.
CREATE TABLE meetings (
    id             text PRIMARY KEY,
    series_id      text NOT NULL REFERENCES meeting_series(id),
    slot           timestamptz,              -- the cron slot; NULL for an extra meeting
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    capacity       int NOT NULL CHECK (capacity >= 0),
    extra          boolean NOT NULL DEFAULT false,
    cancelled      boolean NOT NULL DEFAULT false,
    sequence       int NOT NULL DEFAULT 0,
    edits          jsonb NOT NULL DEFAULT '{}',
    planned_at     timestamptz,
    agenda_sent_at timestamptz,
    closed_at      timestamptz,
    UNIQUE (series_id, slot)
);
CREATE INDEX meetings_series_start ON meetings (series_id, starts_at);

-- The agenda: who is on it, in order, and what became of each (the
-- minutes): reviewed, not discussed (carried), or carried over because
-- the meeting was full.
CREATE TABLE agenda_items (
    meeting_id   text NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    person_id    uuid NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    position     int NOT NULL,
    reason       text NOT NULL,
    days_overdue int NOT NULL DEFAULT 0,
    carried      int NOT NULL DEFAULT 0,
    outcome      text NOT NULL DEFAULT '' CHECK (outcome IN ('', 'reviewed', 'not-discussed', 'overflow')),
    carried_to   text NOT NULL DEFAULT '',
    review_id    uuid,
    PRIMARY KEY (meeting_id, person_id)
);
CREATE INDEX agenda_items_person ON agenda_items (person_id);

-- Each user's private calendar feed: the token's hash only; revoking
-- deletes the row, and a new one makes a new URL.
CREATE TABLE calendar_feeds (
    user_id    uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The risk tool's answers beside a review: the tool and its version, the
-- questions answered yes, what it suggested, and why the rating chosen
-- differs when it does.
ALTER TABLE reviews ADD COLUMN risk_tool text;
ALTER TABLE reviews ADD COLUMN risk_version int;
ALTER TABLE reviews ADD COLUMN risk_yes text[];
ALTER TABLE reviews ADD COLUMN suggested_rating text CHECK (suggested_rating IN ('red', 'amber', 'green', 'blue'));
ALTER TABLE reviews ADD COLUMN rating_reason text NOT NULL DEFAULT '';

---- create above / drop below ----

ALTER TABLE reviews DROP COLUMN rating_reason;
ALTER TABLE reviews DROP COLUMN suggested_rating;
ALTER TABLE reviews DROP COLUMN risk_yes;
ALTER TABLE reviews DROP COLUMN risk_version;
ALTER TABLE reviews DROP COLUMN risk_tool;
DROP TABLE calendar_feeds;
DROP TABLE agenda_items;
DROP TABLE meetings;
DROP TABLE meeting_series;
