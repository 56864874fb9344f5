-- Placeholder: 009 is issue 12's migration (C(E)TRs, keyworkers, consent),
-- written in parallel. tern refuses a gap in the numbers, so this branch
-- holds the number with a no-op; the merge takes issue 12's file instead.
SELECT 1;
