-- Corrections of a person's details (names, date of birth, address, NHS
-- number, consent record): one row per field changed, with the value
-- before and after, why, by whom and when, so the record keeps its history
-- (the audit log says who corrected what and why; this table keeps what
-- the values were). update_id ties the rows to the workflow update that
-- wrote them.

CREATE TABLE person_corrections (
    id           bigserial PRIMARY KEY,
    person_id    uuid NOT NULL REFERENCES people(id),
    update_id    text NOT NULL,
    field        text NOT NULL,
    old_value    text NOT NULL,
    new_value    text NOT NULL,
    reason       text NOT NULL CHECK (reason <> ''),
    corrected_by uuid,
    corrected_at timestamptz NOT NULL
);
CREATE INDEX person_corrections_person ON person_corrections (person_id, corrected_at);

---- create above / drop below ----

DROP TABLE person_corrections;
