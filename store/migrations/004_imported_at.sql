-- When a person was imported from the register spreadsheet. Their
-- referred_at may now be the real (earlier) referral date from the file;
-- the triage deadline's reminders run from the import, so a backlog of
-- waiting referrals is not all overdue the moment it is imported.

ALTER TABLE people ADD COLUMN imported_at timestamptz;

-- Until now an imported person's referred_at was the import.
UPDATE people SET imported_at = referred_at WHERE import_key IS NOT NULL;

ALTER TABLE people ADD CONSTRAINT people_imported_at_check
    CHECK ((imported_at IS NULL) = (import_key IS NULL));
