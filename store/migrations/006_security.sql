-- Issue 16 (security hardening).

-- A referral refused because the person is already referred or on the
-- register, made by someone who may not see that record (so they were not
-- told its id). Each attempt is one row: the outbox of its
-- referral-duplicate notice to the coordinators, sent once by the short
-- ReferralDuplicate workflow (id referral-duplicate-<id>). The attempt
-- itself is in the audit log against the existing record.
CREATE TABLE duplicate_referrals (
    id           uuid PRIMARY KEY,
    person_id    uuid NOT NULL REFERENCES people (id),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    sent_at      timestamptz,
    recipients   text[],
    attempts     int NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX duplicate_referrals_pending ON duplicate_referrals (attempted_at) WHERE status = 'pending';

-- Accounts can be disabled (dsr user disable): their tokens are revoked and
-- their sessions ended at once, and neither a token nor a sign-in works
-- while disabled_at is set.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- API tokens expire (dsr user add --expires, default 365 days). Tokens
-- issued before expiry existed get a year from this migration, so none
-- stops working the moment the register is upgraded.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = now() + interval '365 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;

-- The identity-provider account a user signs in with: "issuer subject",
-- bound at their first OIDC sign-in (matched by email then), and matched
-- on from then on, so a second account at the provider that claims the
-- same email cannot sign in as them.
ALTER TABLE users ADD COLUMN oidc_subject text UNIQUE;
