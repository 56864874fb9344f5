-- The notice guarantee (issue 10).
--
-- Delivery is per recipient: each address of a notice is sent, refused for
-- good (a 5xx) or still pending, so one refused address never holds up the
-- others, and a retry resends only what was not confirmed.
CREATE TABLE notice_deliveries (
    key        text NOT NULL REFERENCES notices(key) ON DELETE CASCADE,
    address    text NOT NULL,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'refused')),
    attempts   int NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    PRIMARY KEY (key, address)
);
CREATE INDEX notice_deliveries_refused ON notice_deliveries (key) WHERE status = 'refused';

-- A claim has an owner (one attempt of one activity) and a lease: a second
-- sender waits for the lease to end instead of sending alongside.
ALTER TABLE notices ADD COLUMN claim_id text NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN claimed_until timestamptz;
CREATE INDEX notices_unsent ON notices (created_at) WHERE status = 'sending';

-- An uncertain write is settled by asking here: a persist that timed out is
-- fenced with an 'abandoned' row, so a late commit cannot land after the
-- workflow was told nothing was written. Idempotency keys are scoped (a hash
-- of caller, person, operation and key) and bound to a hash of the body;
-- the result is what the first request was answered.
ALTER TABLE applied_updates ADD COLUMN outcome text NOT NULL DEFAULT 'applied'
    CHECK (outcome IN ('applied', 'abandoned'));
ALTER TABLE applied_updates ADD COLUMN scope text;
ALTER TABLE applied_updates ADD COLUMN body_hash text NOT NULL DEFAULT '';
ALTER TABLE applied_updates ADD COLUMN result jsonb;
CREATE UNIQUE INDEX applied_updates_scope ON applied_updates (scope)
    WHERE scope IS NOT NULL AND outcome = 'applied';
CREATE INDEX applied_updates_scope_all ON applied_updates (scope) WHERE scope IS NOT NULL;
