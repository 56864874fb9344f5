-- C(E)TRs, admissions (with the root-cause flag), keyworkers, consent over
-- time, and the "C(E)TR lead" flag on users (issue 12).

ALTER TABLE users ADD COLUMN cetr_lead boolean NOT NULL DEFAULT false;

ALTER TABLE people
    ADD COLUMN keyworker_name        text NOT NULL DEFAULT '',
    ADD COLUMN keyworker_email       text NOT NULL DEFAULT '',
    ADD COLUMN keyworker_referred_on date;

-- One row per C(E)TR: planned by the workflow's clock (status due, with
-- its due date), booked, held (with its chair) or cancelled (with a reason).
CREATE TABLE cetrs (
    person_id   uuid NOT NULL REFERENCES people(id),
    id          text NOT NULL CHECK (id <> ''),
    kind        text NOT NULL CHECK (kind IN ('community', 'laep', 'post-admission', 'interim', 'inpatient')),
    status      text NOT NULL CHECK (status IN ('due', 'booked', 'held', 'cancelled')),
    due         timestamptz,
    booked_for  timestamptz,
    held_at     timestamptz,
    chair       text NOT NULL DEFAULT '',
    notes       text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    closed_at   timestamptz,
    PRIMARY KEY (person_id, id)
);
CREATE INDEX cetrs_open_due ON cetrs (due) WHERE status IN ('due', 'booked');
CREATE INDEX cetrs_held ON cetrs (held_at) WHERE status = 'held';

-- Recommendations of a C(E)TR are actions on the same ladder.
ALTER TABLE actions ADD COLUMN cetr_id text;

-- Each move to blue. preceded: a community C(E)TR or LAEP was held in the
-- look-back; when not, the admission needs a root-cause review, whose
-- outcome the coordinator records.
CREATE TABLE admissions (
    person_id          uuid NOT NULL REFERENCES people(id),
    admitted_at        timestamptz NOT NULL,
    preceded           boolean NOT NULL,
    secure             boolean NOT NULL DEFAULT false,
    root_cause_outcome text NOT NULL DEFAULT '',
    root_cause_at      timestamptz,
    left_at            timestamptz,
    PRIMARY KEY (person_id, admitted_at)
);
CREATE INDEX admissions_at ON admissions (admitted_at);

-- Consent over time: each renewal and each withdrawal (with its reason).
-- The basis on people is the current one.
CREATE TABLE consent_records (
    id          bigserial PRIMARY KEY,
    person_id   uuid NOT NULL REFERENCES people(id),
    event       text NOT NULL CHECK (event IN ('renewed', 'withdrawn')),
    basis       text NOT NULL DEFAULT '' CHECK (basis IN ('', 'informed_consent', 'best_interest_decision', 'parental_responsibility')),
    recorded_on date NOT NULL,
    recorded_by text NOT NULL,
    details     text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL
);
CREATE INDEX consent_records_person ON consent_records (person_id, recorded_at);

-- The day someone born on dob turns years old; 29 February falls on
-- 1 March in a common year (register.Birthday is the same rule).
CREATE FUNCTION dsr_birthday(dob date, years int) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN to_char(dob, 'MM-DD') = '02-29' AND to_char((dob + make_interval(years => years))::date, 'MM-DD') = '02-28'
        THEN (dob + make_interval(years => years))::date + 1
        ELSE (dob + make_interval(years => years))::date END
$$;

---- create above / drop below ----

DROP FUNCTION dsr_birthday(date, int);
DROP TABLE consent_records;
DROP TABLE admissions;
ALTER TABLE actions DROP COLUMN cetr_id;
DROP TABLE cetrs;
ALTER TABLE people DROP COLUMN keyworker_name, DROP COLUMN keyworker_email, DROP COLUMN keyworker_referred_on;
ALTER TABLE users DROP COLUMN cetr_lead;
