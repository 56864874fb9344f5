-- Placeholder for migration 005, which is reserved for another branch
-- (tern needs the numbers without a gap). It changes nothing. When the
-- branch that owns 005 is merged, delete this file and keep that one.
SELECT 1;
