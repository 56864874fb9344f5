-- The register: people (one row per episode on the register), the
-- professionals named on each record, reviews, actions, rating history, the
-- outbox of notices and the audit log.

CREATE TABLE people (
    id                 uuid PRIMARY KEY,
    nhs_number         text NOT NULL CHECK (nhs_number ~ '^[0-9]{10}$'),
    episode            int NOT NULL DEFAULT 1,
    previous_id        uuid REFERENCES people(id),
    status             text NOT NULL CHECK (status IN ('referred', 'active', 'discharged', 'declined')),
    rating             text CHECK (rating IN ('red', 'amber', 'green', 'blue')),
    proposed_rating    text CHECK (proposed_rating IN ('red', 'amber', 'green', 'blue')),
    given_name         text NOT NULL,
    family_name        text NOT NULL,
    date_of_birth      date NOT NULL,
    address            text NOT NULL DEFAULT '',
    postcode           text NOT NULL DEFAULT '',
    locality           text NOT NULL DEFAULT '',
    referrer_name      text NOT NULL DEFAULT '',
    referrer_email     text NOT NULL DEFAULT '',
    referrer_org       text NOT NULL DEFAULT '',
    referrer_phone     text NOT NULL DEFAULT '',
    referrer_relationship text NOT NULL DEFAULT '',
    self_referral      boolean NOT NULL DEFAULT false,
    consent_basis      text NOT NULL CHECK (consent_basis IN ('informed_consent', 'best_interest_decision', 'parental_responsibility')),
    consent_recorded_on date NOT NULL,
    consent_recorded_by text NOT NULL,
    consent_details    text NOT NULL DEFAULT '',
    current_issues     text NOT NULL DEFAULT '',
    tried              text NOT NULL DEFAULT '',
    could_help         text NOT NULL DEFAULT '',
    referred_by        uuid,
    referred_at        timestamptz NOT NULL,
    accepted_at        timestamptz,
    closed_at          timestamptz,
    close_reason       text NOT NULL DEFAULT '',
    last_review_at     timestamptz,
    next_review_due    timestamptz,
    import_key         text
);

-- One open episode per NHS number: the database, not a read-then-write,
-- decides duplicates.
CREATE UNIQUE INDEX people_open_nhs ON people (nhs_number) WHERE status IN ('referred', 'active');
CREATE INDEX people_status ON people (status, rating);
CREATE INDEX people_next_review ON people (next_review_due) WHERE status = 'active';

CREATE TABLE professionals (
    person_id     uuid NOT NULL REFERENCES people(id),
    position      int NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL DEFAULT '',
    organisation  text NOT NULL DEFAULT '',
    email         text NOT NULL,
    manager_email text NOT NULL DEFAULT '',
    PRIMARY KEY (person_id, position)
);
CREATE INDEX professionals_email ON professionals (lower(email));
CREATE INDEX professionals_manager ON professionals (lower(manager_email));

CREATE TABLE rating_history (
    id         bigserial PRIMARY KEY,
    person_id  uuid NOT NULL REFERENCES people(id),
    from_rating text,
    to_rating  text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    changed_by uuid,
    changed_at timestamptz NOT NULL
);
CREATE INDEX rating_history_person ON rating_history (person_id, changed_at);

CREATE TABLE reviews (
    id             uuid PRIMARY KEY,
    person_id      uuid NOT NULL REFERENCES people(id),
    held_at        timestamptz NOT NULL,
    rating         text NOT NULL,
    current_issues text NOT NULL DEFAULT '',
    tried          text NOT NULL DEFAULT '',
    could_help     text NOT NULL DEFAULT '',
    notes          text NOT NULL DEFAULT '',
    needs          text[] NOT NULL DEFAULT '{}',
    recorded_by    uuid,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_person ON reviews (person_id, held_at);

CREATE TABLE actions (
    id            uuid PRIMARY KEY,
    person_id     uuid NOT NULL REFERENCES people(id),
    review_id     uuid REFERENCES reviews(id),
    description   text NOT NULL,
    owner_email   text NOT NULL,
    due           timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    outcome       text NOT NULL DEFAULT '',
    created_by    uuid,
    created_at    timestamptz NOT NULL,
    closed_by     uuid,
    closed_at     timestamptz
);
CREATE INDEX actions_person ON actions (person_id, due);
CREATE INDEX actions_owner ON actions (lower(owner_email)) WHERE status = 'open';

-- Updates applied, by Temporal update id, so a retried persist activity
-- writes nothing twice.
CREATE TABLE applied_updates (
    update_id  text PRIMARY KEY,
    person_id  uuid NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- The outbox: one row per notice occasion. A key is claimed, sent, marked
-- sent; a sent key is never sent again.
CREATE TABLE notices (
    key        text PRIMARY KEY,
    person_id  uuid REFERENCES people(id),
    kind       text NOT NULL,
    occasion   text NOT NULL,
    level      int NOT NULL DEFAULT 0,
    action_id  uuid,
    due_at     timestamptz,
    status     text NOT NULL CHECK (status IN ('sending', 'sent', 'skipped')),
    recipients text[] NOT NULL DEFAULT '{}',
    attempts   int NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX notices_person ON notices (person_id, created_at);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     uuid,
    user_email  text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    action      text NOT NULL CHECK (action IN ('read', 'list', 'export', 'create', 'change', 'refused')),
    person_id   uuid,
    fields      text[] NOT NULL DEFAULT '{}',
    client_addr text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_person ON audit_log (person_id, at);
CREATE INDEX audit_user ON audit_log (user_id, at);
CREATE INDEX audit_at ON audit_log (at);

---- create above / drop below ----

DROP TABLE audit_log;
DROP TABLE notices;
DROP TABLE applied_updates;
DROP TABLE actions;
DROP TABLE reviews;
DROP TABLE rating_history;
DROP TABLE professionals;
DROP TABLE people;
