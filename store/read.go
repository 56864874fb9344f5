package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// visibleTo is the SQL condition (on people p) for the records a viewer may
// see: a coordinator all; a professional those naming them; a manager also
// those naming a professional they manage. $1 is the viewer's lower-case
// email. Roles that never see records see nothing.
func visibleTo(role string) string {
	switch role {
	case "coordinator":
		return "$1::text IS NOT NULL" // always true; names $1 so its type is known
	case "professional":
		return `EXISTS (SELECT 1 FROM professionals pr WHERE pr.person_id = p.id AND lower(pr.email) = $1)`
	case "manager":
		return `EXISTS (SELECT 1 FROM professionals pr LEFT JOIN users u ON lower(u.email) = lower(pr.email)
			WHERE pr.person_id = p.id AND (lower(pr.email) = $1 OR lower(pr.manager_email) = $1 OR lower(coalesce(u.manager_email, '')) = $1))`
	}
	return "$1::text IS NULL" // always false
}

// CanSee reports whether the viewer may see this person's record.
func (s *Store) CanSee(ctx context.Context, v register.Actor, personID string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM people p WHERE p.id = $2 AND `+visibleTo(v.Role)+`)`,
		strings.ToLower(v.Email), personID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: check access: %w", err)
	}
	return ok, nil
}

const personColumns = `p.id::text, p.episode, p.status, coalesce(p.rating,''), coalesce(p.proposed_rating,''),
	p.given_name, p.family_name, to_char(p.date_of_birth,'YYYY-MM-DD'), p.nhs_number, p.address, p.postcode, p.locality,
	p.referrer_name, p.referrer_email, p.referrer_org, p.referrer_phone, p.referrer_relationship, p.self_referral,
	p.consent_basis, to_char(p.consent_recorded_on,'YYYY-MM-DD'), p.consent_recorded_by, p.consent_details,
	p.current_issues, p.tried, p.could_help, p.referred_at, p.accepted_at, p.closed_at, p.close_reason,
	p.last_review_at, p.next_review_due, p.imported_at`

func scanPerson(row pgx.Row) (register.Person, error) {
	var p register.Person
	var status, rating, proposed, basis string
	err := row.Scan(&p.ID, &p.Episode, &status, &rating, &proposed,
		&p.GivenName, &p.FamilyName, &p.DateOfBirth, &p.NHSNumber, &p.Address, &p.Postcode, &p.Locality,
		&p.Referrer.Name, &p.Referrer.Email, &p.Referrer.Organisation, &p.Referrer.Phone, &p.Referrer.Relationship, &p.SelfReferral,
		&basis, &p.Consent.RecordedOn, &p.Consent.RecordedBy, &p.Consent.Details,
		&p.CurrentIssues, &p.Tried, &p.CouldHelp, &p.ReferredAt, &p.AcceptedAt, &p.ClosedAt, &p.CloseReason,
		&p.LastReviewAt, &p.NextReviewDue, &p.ImportedAt)
	p.Status, p.Rating, p.ProposedRAG, p.Consent.Basis = register.Status(status), register.Rating(rating), register.Rating(proposed), register.ConsentBasis(basis)
	return p, err
}

// GetPerson returns the whole record: details, professionals, actions (with
// escalation level), reviews newest first, rating history and notices.
func (s *Store) GetPerson(ctx context.Context, id string) (register.Person, error) {
	return getPerson(ctx, s.Pool, id)
}

// reader is the pool or a transaction: what a read goes through.
type reader interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getPerson(ctx context.Context, db reader, id string) (register.Person, error) {
	p, err := scanPerson(db.QueryRow(ctx, `SELECT `+personColumns+` FROM people p WHERE p.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, register.NotFound("person")
	}
	if err != nil {
		return p, fmt.Errorf("store: get person: %w", err)
	}
	if p.Professionals, err = professionals(ctx, db, id); err != nil {
		return p, err
	}
	rows, _ := db.Query(ctx, `SELECT a.id::text, a.description, a.owner_email, a.due, a.status, a.outcome,
		coalesce(a.created_by::text,''), a.created_at, a.closed_at,
		coalesce((SELECT max(n.level) FROM notices n WHERE n.action_id = a.id AND n.kind = 'action-escalated'), 0)
		FROM actions a WHERE a.person_id = $1 ORDER BY a.due, a.created_at`, id)
	p.Actions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Action, error) {
		var a register.Action
		var st string
		err := r.Scan(&a.ID, &a.Description, &a.OwnerEmail, &a.Due, &st, &a.Outcome, &a.CreatedBy, &a.CreatedAt, &a.ClosedAt, &a.EscalationLevel)
		a.Status = register.ActionStatus(st)
		return a, err
	})
	if err != nil {
		return p, fmt.Errorf("store: actions: %w", err)
	}
	rows, _ = db.Query(ctx, `SELECT id::text, held_at, rating, current_issues, tried, could_help, notes, needs, coalesce(recorded_by::text,''),
		coalesce(suggested_rating,''), coalesce(rating_reason,'')
		FROM reviews WHERE person_id = $1 ORDER BY held_at DESC`, id)
	p.Reviews, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Review, error) {
		var v register.Review
		var rating, suggested string
		err := r.Scan(&v.ID, &v.HeldAt, &rating, &v.CurrentIssues, &v.Tried, &v.CouldHelp, &v.Notes, &v.Needs, &v.RecordedBy,
			&suggested, &v.RatingReason)
		v.Rating, v.Suggested = register.Rating(rating), register.Rating(suggested)
		return v, err
	})
	if err != nil {
		return p, fmt.Errorf("store: reviews: %w", err)
	}
	rows, _ = db.Query(ctx, `SELECT coalesce(from_rating,''), to_rating, reason, coalesce(changed_by::text,''), changed_at
		FROM rating_history WHERE person_id = $1 ORDER BY changed_at, id`, id)
	p.RatingHistory, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.RatingChange, error) {
		var c register.RatingChange
		var from, to string
		err := r.Scan(&from, &to, &c.Reason, &c.ChangedBy, &c.ChangedAt)
		c.From, c.To = register.Rating(from), register.Rating(to)
		return c, err
	})
	if err != nil {
		return p, fmt.Errorf("store: rating history: %w", err)
	}
	rows, _ = db.Query(ctx, `SELECT n.kind, n.occasion, n.level, n.status, coalesce(n.due_at, n.created_at), n.sent_at, n.created_at,
		coalesce((SELECT array_agg(d.address ORDER BY d.address) FROM notice_deliveries d WHERE d.key = n.key AND d.status = 'refused'), '{}')
		FROM notices n WHERE n.person_id = $1 ORDER BY n.created_at, n.key`, id)
	p.Notices, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.NoticeSummary, error) {
		var n register.NoticeSummary
		var kind string
		err := r.Scan(&kind, &n.Occasion, &n.Level, &n.Status, &n.DueAt, &n.SentAt, &n.CreatedAt, &n.Undelivered)
		n.Kind = register.NoticeKind(kind)
		return n, err
	})
	if err != nil {
		return p, fmt.Errorf("store: notices: %w", err)
	}
	return p, cetrParts(ctx, db, &p)
}

// Professionals returns the professionals named on a record, in order.
func (s *Store) Professionals(ctx context.Context, personID string) ([]register.Professional, error) {
	return professionals(ctx, s.Pool, personID)
}

func professionals(ctx context.Context, db reader, personID string) ([]register.Professional, error) {
	rows, _ := db.Query(ctx, `SELECT name, role, organisation, email, manager_email FROM professionals
		WHERE person_id = $1 ORDER BY position`, personID)
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Professional, error) {
		var p register.Professional
		return p, r.Scan(&p.Name, &p.Role, &p.Organisation, &p.Email, &p.ManagerEmail)
	})
	if err != nil {
		return nil, fmt.Errorf("store: professionals: %w", err)
	}
	return ps, nil
}

// ListFilter narrows a list of people.
type ListFilter struct {
	Rating   register.Rating
	Status   register.Status
	Locality string
	Overdue  bool
	// CETROverdue: a C(E)TR due or booked is past its due date.
	CETROverdue bool
	// NoKeyworker: eligible for a keyworker (KeyworkerMaxAge and
	// KeyworkerRatings) with none named or referred.
	NoKeyworker      bool
	KeyworkerMaxAge  int
	KeyworkerRatings []register.Rating
	Limit            int
	Cursor           string
	Now              time.Time
}

// PersonSummary is one row of the people list.
type PersonSummary struct {
	ID             string          `json:"id"`
	Status         register.Status `json:"status"`
	Rating         register.Rating `json:"rag,omitempty"`
	GivenName      string          `json:"given_name"`
	FamilyName     string          `json:"family_name"`
	NHSNumber      string          `json:"nhs_number"`
	Locality       string          `json:"locality"`
	ReferredAt     time.Time       `json:"referred_at"`
	NextReviewDue  *time.Time      `json:"next_review_due"`
	ReviewOverdue  bool            `json:"review_overdue"`
	OverdueActions int             `json:"overdue_actions"`
	OpenActions    int             `json:"open_actions"`
}

// ListPeople returns the people the viewer may see, matching the filter, in
// id order (keyset pages stay stable while records change), with a cursor
// for the next page.
func (s *Store) ListPeople(ctx context.Context, v register.Actor, f ListFilter) ([]PersonSummary, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	args := []any{strings.ToLower(v.Email), f.Now}
	where := []string{visibleTo(v.Role)}
	add := func(cond string, val any) {
		args = append(args, val)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Rating != "" {
		add("p.rating = $%d", string(f.Rating))
	}
	if f.Status != "" {
		add("p.status = $%d", string(f.Status))
	}
	if f.Locality != "" {
		add("p.locality = $%d", f.Locality)
	}
	if f.Overdue {
		where = append(where, `p.status = 'active' AND (p.next_review_due < $2 OR EXISTS (SELECT 1 FROM actions a WHERE a.person_id = p.id AND a.status = 'open' AND a.due < $2))`)
	}
	if f.CETROverdue {
		where = append(where, `p.status = 'active' AND EXISTS (SELECT 1 FROM cetrs c WHERE c.person_id = p.id AND c.status IN ('due','booked') AND c.due < $2)`)
	}
	if f.NoKeyworker {
		rs := make([]string, 0, len(f.KeyworkerRatings))
		for _, r := range f.KeyworkerRatings {
			rs = append(rs, string(r))
		}
		args = append(args, rs, f.KeyworkerMaxAge+1)
		// Younger than the birthday after the maximum age, on the day.
		where = append(where, fmt.Sprintf(`p.status = 'active' AND p.rating = ANY($%d::text[]) AND p.keyworker_name = '' AND p.keyworker_referred_on IS NULL
			AND dsr_birthday(p.date_of_birth, $%d) > ($2::timestamptz AT TIME ZONE 'Europe/London')::date`, len(args)-1, len(args)))
	}
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil {
			return nil, "", register.Invalidf("cursor", "not a cursor from this list")
		}
		add("p.id::text > $%d", string(raw))
	}
	args = append(args, f.Limit+1)
	// Keyset pagination on id keeps pages stable while records change.
	q := `SELECT p.id::text, p.status, coalesce(p.rating,''), p.given_name, p.family_name, p.nhs_number, p.locality,
		p.referred_at, p.next_review_due, coalesce(p.next_review_due < $2, false),
		(SELECT count(*) FROM actions a WHERE a.person_id = p.id AND a.status = 'open' AND a.due < $2),
		(SELECT count(*) FROM actions a WHERE a.person_id = p.id AND a.status = 'open')
		FROM people p WHERE ` + strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY p.id LIMIT $%d`, len(args))
	rows, _ := s.Pool.Query(ctx, q, args...)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PersonSummary, error) {
		var p PersonSummary
		var st, rating string
		err := r.Scan(&p.ID, &st, &rating, &p.GivenName, &p.FamilyName, &p.NHSNumber, &p.Locality, &p.ReferredAt,
			&p.NextReviewDue, &p.ReviewOverdue, &p.OverdueActions, &p.OpenActions)
		p.Status, p.Rating = register.Status(st), register.Rating(rating)
		if p.Status != register.Active {
			p.ReviewOverdue = false
		}
		return p, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list people: %w", err)
	}
	next := ""
	if len(list) > f.Limit {
		list = list[:f.Limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(list[len(list)-1].ID))
	}
	return list, next, nil
}

// LoadState rebuilds a person's workflow state from the record, including
// each ladder's progress from the outbox. The reconciler uses it when a
// workflow has to be started for a person Temporal does not know.
func (s *Store) LoadState(ctx context.Context, id string) (register.State, error) {
	st := register.State{PersonID: id}
	var status, rating string
	var last, due, accepted, imported *time.Time
	// An imported referral was never a new referral: nobody is told of it
	// again, whichever start (import or reconciler) reaches Temporal first;
	// its triage deadline runs from the import.
	err := s.Pool.QueryRow(ctx, `SELECT status, coalesce(rating,''), referred_at, accepted_at, last_review_at, next_review_due,
		import_key IS NOT NULL, imported_at
		FROM people WHERE id = $1`, id).Scan(&status, &rating, &st.ReferredAt, &accepted, &last, &due, &st.Announced, &imported)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, register.NotFound("person")
	}
	if err != nil {
		return st, fmt.Errorf("store: load state: %w", err)
	}
	st.Status, st.Rating = register.Status(status), register.Rating(rating)
	st.ReferredAt = st.ReferredAt.UTC()
	if imported != nil && imported.After(st.ReferredAt) {
		st.TriageFrom = imported.UTC()
	}
	switch {
	case last != nil:
		st.LastReviewAt = last.UTC()
	case accepted != nil:
		st.LastReviewAt = accepted.UTC()
	}
	if due != nil && st.Status == register.Active {
		st.ReviewDue = due.UTC()
		st.Review.Occasion = st.ReviewDue.Format(time.RFC3339)
	}
	st.Triage.Occasion = st.ReferredAt.Format(time.RFC3339)
	rows, _ := s.Pool.Query(ctx, `SELECT id::text, due FROM actions WHERE person_id = $1 AND status = 'open' ORDER BY due, id`, id)
	st.Actions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.ActionState, error) {
		var a register.ActionState
		err := r.Scan(&a.ID, &a.Due)
		a.Due = a.Due.UTC()
		a.Ladder.Occasion = a.ID
		return a, err
	})
	if err != nil {
		return st, fmt.Errorf("store: load actions: %w", err)
	}
	if st.Status != register.Active {
		st.Actions = nil
	}
	// Restore progress: a ladder is done up to the furthest rung sent or
	// skipped. A rung claimed but not confirmed sent (its worker died, or
	// Temporal's state was lost) is not done, so it is sent again; its
	// addresses already confirmed are not.
	rows, _ = s.Pool.Query(ctx, `SELECT kind, occasion, level FROM notices WHERE person_id = $1 AND status IN ('sent','skipped')`, id)
	type rec struct {
		kind     register.NoticeKind
		occasion string
		level    int
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rec, error) {
		var x rec
		var k string
		err := r.Scan(&k, &x.occasion, &x.level)
		x.kind = register.NoticeKind(k)
		return x, err
	})
	if err != nil {
		return st, fmt.Errorf("store: load notices: %w", err)
	}
	bump := func(l *register.Ladder, idx int) {
		if idx+1 > l.Done {
			l.Done = idx + 1
		}
	}
	for _, r := range recs {
		idx := register.RungIndex(r.kind, r.level)
		switch r.kind {
		case register.TriageOverdue:
			if r.occasion == st.Triage.Occasion {
				bump(&st.Triage, idx)
			}
		case register.ReviewDue, register.ReviewOverdue, register.ReviewEscalated:
			if r.occasion == st.Review.Occasion {
				bump(&st.Review, idx)
			}
		case register.ActionDue, register.ActionOverdue, register.ActionEscalated:
			for i := range st.Actions {
				if st.Actions[i].ID == r.occasion {
					bump(&st.Actions[i].Ladder, idx)
				}
			}
		}
	}
	return st, nil
}

// OpenPeople returns the ids of every referred or active person: those that
// must have a running workflow.
func (s *Store) OpenPeople(ctx context.Context) ([]string, error) {
	return s.OpenPeopleSince(ctx, time.Time{})
}

// OpenPeopleSince lists the referred or active people referred or imported
// at or after since; zero means everyone.
func (s *Store) OpenPeopleSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT id::text FROM people WHERE status IN ('referred','active')
		AND ($1::timestamptz IS NULL OR referred_at >= $1 OR imported_at >= $1) ORDER BY id`, nullTime(since))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: open people: %w", err)
	}
	return ids, nil
}
