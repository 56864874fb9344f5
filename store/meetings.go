package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bsw-dsr/dsr/register"
)

// DefaultSeriesID is the series the env settings (DSR_PANEL_SCHEDULE,
// DSR_PANEL_CAPACITY) describe.
const DefaultSeriesID = "default"

const seriesColumns = `id, name, locality, schedule, capacity, length_minutes, attendees, place`

func scanSeries(row pgx.Row) (register.Series, error) {
	var s register.Series
	var minutes int
	err := row.Scan(&s.ID, &s.Name, &s.Locality, &s.Schedule, &s.Capacity, &minutes, &s.Attendees, &s.Place)
	s.Length = time.Duration(minutes) * time.Minute
	return s, err
}

// SaveSeries creates or replaces a meeting series (validated by the
// caller with register.CheckSeries).
func (s *Store) SaveSeries(ctx context.Context, sr register.Series) error {
	if sr.Attendees == nil {
		sr.Attendees = []string{}
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO meeting_series (`+seriesColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
		ON CONFLICT (id) DO UPDATE SET name=$2, locality=$3, schedule=$4, capacity=$5, length_minutes=$6, attendees=$7, place=$8, updated_at=now()`,
		sr.ID, sr.Name, sr.Locality, sr.Schedule, sr.Capacity, int(sr.Length/time.Minute), sr.Attendees, sr.Place)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" {
		return register.Invalidf("id", "must be 1 to 40 lower-case letters, digits or hyphens")
	}
	if err != nil {
		return fmt.Errorf("store: save meeting series: %w", err)
	}
	return nil
}

// EnsureDefaultSeries creates the default series from the settings when
// it does not exist yet; a coordinator's later changes to it are kept.
func (s *Store) EnsureDefaultSeries(ctx context.Context, schedule string, capacity int) error {
	if schedule == "" {
		return nil
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO meeting_series (id, name, schedule, capacity) VALUES ($1, 'DSR meeting', $2, $3)
		ON CONFLICT (id) DO NOTHING`, DefaultSeriesID, schedule, capacity)
	if err != nil {
		return fmt.Errorf("store: default meeting series: %w", err)
	}
	return nil
}

// Series returns one meeting series.
func (s *Store) Series(ctx context.Context, id string) (register.Series, error) {
	sr, err := scanSeries(s.Pool.QueryRow(ctx, `SELECT `+seriesColumns+` FROM meeting_series WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return sr, register.NotFound("meeting series")
	}
	if err != nil {
		return sr, fmt.Errorf("store: meeting series: %w", err)
	}
	return sr, nil
}

// ListSeries returns every meeting series, by name.
func (s *Store) ListSeries(ctx context.Context) ([]register.Series, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT `+seriesColumns+` FROM meeting_series ORDER BY name, id`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Series, error) { return scanSeries(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list meeting series: %w", err)
	}
	return out, nil
}

// MeetingState is a meeting as recorded: the occurrence, its invitation's
// sequence and where it is in its life.
type MeetingState struct {
	register.Meeting
	Slot         *time.Time      `json:"slot,omitempty"`
	Sequence     int             `json:"sequence"`
	Edits        register.Edits  `json:"edits"`
	PlannedAt    *time.Time      `json:"planned_at,omitempty"`
	AgendaSentAt *time.Time      `json:"agenda_sent_at,omitempty"`
	ClosedAt     *time.Time      `json:"closed_at,omitempty"`
	Series       register.Series `json:"-"`
}

const meetingColumns = `id, series_id, slot, starts_at, ends_at, capacity, extra, cancelled, sequence, edits, planned_at, agenda_sent_at, closed_at`

func scanMeeting(row pgx.Row) (MeetingState, error) {
	var m MeetingState
	var edits []byte
	err := row.Scan(&m.ID, &m.SeriesID, &m.Slot, &m.Start, &m.End, &m.Capacity, &m.Extra, &m.Cancelled, &m.Sequence, &edits,
		&m.PlannedAt, &m.AgendaSentAt, &m.ClosedAt)
	if err == nil {
		err = json.Unmarshal(edits, &m.Edits)
	}
	m.Start, m.End = m.Start.UTC(), m.End.UTC()
	return m, err
}

// Meetings lists the meetings of a series that start in [from, to): the
// cron slots with what is recorded for them, and the extra meetings.
func (s *Store) Meetings(ctx context.Context, seriesID string, from, to time.Time) ([]MeetingState, error) {
	sr, err := s.Series(ctx, seriesID)
	if err != nil {
		return nil, err
	}
	rows, _ := s.Pool.Query(ctx, `SELECT `+meetingColumns+` FROM meetings WHERE series_id = $1`, seriesID)
	recorded, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MeetingState, error) { return scanMeeting(r) })
	if err != nil {
		return nil, fmt.Errorf("store: meetings: %w", err)
	}
	var changes []register.SlotChange
	var extras []register.Meeting
	byID := map[string]MeetingState{}
	for _, m := range recorded {
		byID[m.ID] = m
		if m.Extra {
			extras = append(extras, m.Meeting)
		} else if m.Slot != nil {
			changes = append(changes, register.SlotChange{Slot: *m.Slot, Start: m.Start, Cancelled: m.Cancelled})
		}
	}
	occ, err := sr.Occurrences(from, to, changes, extras)
	if err != nil {
		return nil, err
	}
	// A slot moved into [from, to) from outside it is listed by its start;
	// one moved out of it is not.
	listed := map[string]bool{}
	for _, o := range occ {
		listed[o.ID] = true
	}
	for _, m := range recorded {
		if !m.Extra && !listed[m.ID] && !m.Start.Before(from) && m.Start.Before(to) {
			occ = append(occ, m.Meeting)
		}
	}
	slices.SortStableFunc(occ, func(a, b register.Meeting) int { return a.Start.Compare(b.Start) })
	out := make([]MeetingState, 0, len(occ))
	for _, o := range occ {
		if o.Start.Before(from) || !o.Start.Before(to) {
			continue
		}
		m, ok := byID[o.ID]
		if !ok {
			slot := o.Start
			m = MeetingState{Meeting: o, Slot: &slot}
		}
		m.Series = sr
		out = append(out, m)
	}
	return out, nil
}

// MaxMove is how far a meeting may be moved from its scheduled slot.
const MaxMove = 28 * 24 * time.Hour

// Meeting returns one meeting by id: recorded, or a slot of its series
// (the id names the slot).
func (s *Store) Meeting(ctx context.Context, id string) (MeetingState, error) {
	m, err := scanMeeting(s.Pool.QueryRow(ctx, `SELECT `+meetingColumns+` FROM meetings WHERE id = $1`, id))
	if err == nil {
		m.Series, err = s.Series(ctx, m.SeriesID)
		return m, err
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("store: meeting: %w", err)
	}
	// Not recorded yet: a slot id is series-YYYYMMDDTHHMMSSZ.
	i := strings.LastIndex(id, "-")
	if i < 0 {
		return m, register.NotFound("meeting")
	}
	slot, perr := time.Parse("20060102T150405Z", id[i+1:])
	if perr != nil {
		return m, register.NotFound("meeting")
	}
	ms, err := s.Meetings(ctx, id[:i], slot, slot.Add(time.Second))
	if register.KindOf(err) == register.KindNotFound {
		return m, register.NotFound("meeting")
	}
	if err != nil {
		return m, err
	}
	for _, o := range ms {
		if o.ID == id {
			return o, nil
		}
	}
	return m, register.NotFound("meeting")
}

// recordMeeting makes sure the meeting has a row (a slot is recorded the
// first time something happens to it).
func recordMeeting(ctx context.Context, tx pgx.Tx, m MeetingState) error {
	_, err := tx.Exec(ctx, `INSERT INTO meetings (id, series_id, slot, starts_at, ends_at, capacity, extra)
		VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (id) DO NOTHING`,
		m.ID, m.SeriesID, m.Slot, m.Start, m.End, m.Capacity, m.Extra)
	if err != nil {
		return fmt.Errorf("store: record meeting: %w", err)
	}
	return nil
}

// AddExtraMeeting records an extra (urgent) meeting of a series.
func (s *Store) AddExtraMeeting(ctx context.Context, seriesID string, start time.Time, capacity int) (MeetingState, error) {
	sr, err := s.Series(ctx, seriesID)
	if err != nil {
		return MeetingState{}, err
	}
	if capacity <= 0 {
		capacity = sr.EffectiveCapacity()
	}
	m := MeetingState{Meeting: register.Meeting{ID: seriesID + "-x" + randomHex(6), SeriesID: seriesID, Start: start.UTC(),
		End: start.UTC().Add(sr.MeetingLength()), Capacity: capacity, Extra: true}, Series: sr}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return recordMeeting(ctx, tx, m) })
	return m, err
}

// ChangeMeeting moves or cancels a meeting and raises its invitation's
// sequence. Moving a cancelled meeting, or a held one, is refused.
func (s *Store) ChangeMeeting(ctx context.Context, id string, start time.Time, cancel bool) (MeetingState, error) {
	m, err := s.Meeting(ctx, id)
	if err != nil {
		return m, err
	}
	if m.ClosedAt != nil {
		return m, register.Conflict("the meeting has been held", id)
	}
	if m.Cancelled {
		return m, register.Conflict("the meeting is cancelled", id)
	}
	if !start.IsZero() && m.Slot != nil && (start.Sub(*m.Slot) > MaxMove || m.Slot.Sub(start) > MaxMove) {
		return m, register.Invalidf("start", "a meeting moves at most 28 days from its scheduled date: cancel it and add an extra one instead")
	}
	if !start.IsZero() {
		m.End = start.UTC().Add(m.End.Sub(m.Start))
		m.Start = start.UTC()
	}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := recordMeeting(ctx, tx, m); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE meetings SET starts_at=$2, ends_at=$3, cancelled=$4, sequence=sequence+1 WHERE id=$1`,
			id, m.Start, m.End, cancel)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("store: change meeting: %w", err)
	}
	return s.Meeting(ctx, id)
}

// SetAgendaEdits keeps a coordinator's edits to an agenda not yet sent.
func (s *Store) SetAgendaEdits(ctx context.Context, id string, ed register.Edits) error {
	m, err := s.Meeting(ctx, id)
	if err != nil {
		return err
	}
	if m.AgendaSentAt != nil {
		return register.Conflict("the agenda has been sent", id)
	}
	b, _ := json.Marshal(ed)
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := recordMeeting(ctx, tx, m); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE meetings SET edits=$2 WHERE id=$1`, id, b)
		return err
	})
}

// Candidates lists the open people the agenda planner considers, with
// their carry-over count and the professionals named for them.
// triageWithin gives a referral its triage deadline.
func (s *Store) Candidates(ctx context.Context, locality string, triageWithin time.Duration) ([]register.Candidate, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT p.id::text, p.status, coalesce(p.rating,''),
		CASE WHEN p.status = 'referred' THEN greatest(p.referred_at, coalesce(p.imported_at, p.referred_at)) + make_interval(secs => $2)
		     ELSE p.next_review_due END,
		EXISTS (SELECT 1 FROM actions a JOIN notices n ON n.action_id = a.id AND n.kind = 'action-escalated' AND n.status = 'sent'
		        WHERE a.person_id = p.id AND a.status = 'open')
		OR EXISTS (SELECT 1 FROM cetrs c JOIN notices n ON n.person_id = c.person_id AND n.occasion = c.id
		              AND n.kind = 'cetr-escalated' AND n.status = 'sent'
		        WHERE c.person_id = p.id AND c.status IN ('due', 'booked')),
		coalesce((SELECT array_agg(pr.email ORDER BY pr.position) FROM professionals pr WHERE pr.person_id = p.id), '{}'),
		coalesce((SELECT array_agg(ai.outcome ORDER BY m.starts_at DESC) FROM agenda_items ai JOIN meetings m ON m.id = ai.meeting_id
		          WHERE ai.person_id = p.id AND ai.outcome <> ''), '{}')
		FROM people p WHERE p.status IN ('referred', 'active') AND ($1 = '' OR p.locality = $1)
		ORDER BY p.id`, locality, triageWithin.Seconds())
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Candidate, error) {
		var c register.Candidate
		var status, rating string
		var due *time.Time
		var outcomes []string
		err := r.Scan(&c.PersonID, &status, &rating, &due, &c.Escalated, &c.Professionals, &outcomes)
		c.Status, c.Rating = register.Status(status), register.Rating(rating)
		if due != nil {
			c.Due = due.UTC()
		}
		for _, o := range outcomes {
			if o != "not-discussed" && o != "overflow" {
				break
			}
			c.Carried++
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: agenda candidates: %w", err)
	}
	return out, nil
}

// SaveAgenda records a planned agenda: its items in order and the people
// carried over (outcome overflow). Planning again before the agenda is
// sent replaces it.
func (s *Store) SaveAgenda(ctx context.Context, m MeetingState, ag register.Agenda) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := recordMeeting(ctx, tx, m); err != nil {
			return err
		}
		var sent *time.Time
		if err := tx.QueryRow(ctx, `SELECT agenda_sent_at FROM meetings WHERE id=$1 FOR UPDATE`, m.ID).Scan(&sent); err != nil {
			return fmt.Errorf("store: lock meeting: %w", err)
		}
		if sent != nil {
			return register.Conflict("the agenda has been sent", m.ID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM agenda_items WHERE meeting_id=$1`, m.ID); err != nil {
			return fmt.Errorf("store: clear agenda: %w", err)
		}
		for i, it := range ag.Items {
			if _, err := tx.Exec(ctx, `INSERT INTO agenda_items (meeting_id, person_id, position, reason, days_overdue, carried)
				VALUES ($1,$2,$3,$4,$5,$6)`, m.ID, it.PersonID, i+1, string(it.Reason), it.DaysOverdue, it.Carried); err != nil {
				return fmt.Errorf("store: agenda item: %w", err)
			}
		}
		for i, c := range ag.Carried {
			if _, err := tx.Exec(ctx, `INSERT INTO agenda_items (meeting_id, person_id, position, reason, carried, outcome, carried_to)
				VALUES ($1,$2,$3,'overflow',$4,'overflow',$5)`, m.ID, c.PersonID, len(ag.Items)+i+1, c.Times-1, c.To); err != nil {
				return fmt.Errorf("store: agenda overflow: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE meetings SET planned_at=now() WHERE id=$1`, m.ID)
		return err
	})
}

// MarkAgendaSent closes the agenda to edits.
func (s *Store) MarkAgendaSent(ctx context.Context, id string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE meetings SET agenda_sent_at=coalesce(agenda_sent_at, now()) WHERE id=$1`, id)
	if err != nil {
		return fmt.Errorf("store: mark agenda sent: %w", err)
	}
	return nil
}

// AgendaEntry is one row of a recorded agenda.
type AgendaEntry struct {
	register.AgendaItem
	Outcome   string `json:"outcome,omitempty"`
	CarriedTo string `json:"carried_to,omitempty"`
	ReviewID  string `json:"review_id,omitempty"`
}

// Agenda returns a meeting's recorded agenda, overflow last. viewer, when
// not a coordinator, sees only the people they may see.
func (s *Store) Agenda(ctx context.Context, meetingID string, viewer register.Actor) ([]AgendaEntry, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT ai.person_id::text, ai.reason, coalesce(p.rating,''), ai.days_overdue, ai.carried, ai.outcome, ai.carried_to, coalesce(ai.review_id::text,'')
		FROM agenda_items ai JOIN people p ON p.id = ai.person_id
		WHERE ai.meeting_id = $2 AND `+visibleTo(viewer.Role)+` ORDER BY ai.position`, strings.ToLower(viewer.Email), meetingID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgendaEntry, error) {
		var e AgendaEntry
		var reason, rating string
		err := r.Scan(&e.PersonID, &reason, &rating, &e.DaysOverdue, &e.Carried, &e.Outcome, &e.CarriedTo, &e.ReviewID)
		e.Reason, e.Rating = register.Reason(reason), register.Rating(rating)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: agenda: %w", err)
	}
	return out, nil
}

// SetOutcome records what became of a person at a meeting: reviewed (with
// the review's id) or not discussed (carried to the next meeting).
func (s *Store) SetOutcome(ctx context.Context, meetingID, personID, outcome, reviewID, carriedTo string) error {
	var rid *string
	if reviewID != "" {
		rid = &reviewID
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE agenda_items SET outcome=$3, review_id=$4, carried_to=$5
		WHERE meeting_id=$1 AND person_id=$2 AND outcome <> 'overflow'`, meetingID, personID, outcome, rid, carriedTo)
	if err != nil {
		return fmt.Errorf("store: agenda outcome: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return register.NotFound("agenda item")
	}
	return nil
}

// CloseMeeting marks a meeting held; ok is false when it already was.
func (s *Store) CloseMeeting(ctx context.Context, id string) (ok bool, err error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE meetings SET closed_at=now() WHERE id=$1 AND closed_at IS NULL`, id)
	if err != nil {
		return false, fmt.Errorf("store: close meeting: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// NewCalendarFeed gives the user a new private feed token, revoking any
// earlier one. Only its hash is kept.
func (s *Store) NewCalendarFeed(ctx context.Context, userID string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: feed token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	_, err := s.Pool.Exec(ctx, `INSERT INTO calendar_feeds (user_id, token_hash) VALUES ($1,$2)
		ON CONFLICT (user_id) DO UPDATE SET token_hash=$2, created_at=now()`, userID, feedHash(token))
	if err != nil {
		return "", fmt.Errorf("store: new calendar feed: %w", err)
	}
	return token, nil
}

// RevokeCalendarFeed ends the user's feed URL.
func (s *Store) RevokeCalendarFeed(ctx context.Context, userID string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM calendar_feeds WHERE user_id=$1`, userID); err != nil {
		return fmt.Errorf("store: revoke calendar feed: %w", err)
	}
	return nil
}

// FeedUser finds whose feed a token opens; not found when revoked.
func (s *Store) FeedUser(ctx context.Context, token string) (User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id =
		(SELECT user_id FROM calendar_feeds WHERE token_hash=$1)`, feedHash(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, register.NotFound("calendar feed")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: calendar feed: %w", err)
	}
	return u, nil
}

// FeedDates are the dates a user is named on, without anything personal:
// the review dates of the people they are named for and their open
// actions' due dates, each with the person's id for a link.
type FeedDate struct {
	Kind     string    `json:"kind"` // review or action
	PersonID string    `json:"person_id"`
	ItemID   string    `json:"item_id"`
	At       time.Time `json:"at"`
}

// FeedDates lists the review and action dates email is named on.
func (s *Store) FeedDates(ctx context.Context, email string) ([]FeedDate, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT 'review', p.id::text, p.id::text, p.next_review_due FROM people p
		WHERE p.status = 'active' AND p.next_review_due IS NOT NULL
		  AND EXISTS (SELECT 1 FROM professionals pr WHERE pr.person_id = p.id AND lower(pr.email) = $1)
		UNION ALL
		SELECT 'action', a.person_id::text, a.id::text, a.due FROM actions a WHERE a.status = 'open' AND lower(a.owner_email) = $1
		ORDER BY 4`, strings.ToLower(email))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FeedDate, error) {
		var d FeedDate
		err := r.Scan(&d.Kind, &d.PersonID, &d.ItemID, &d.At)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: feed dates: %w", err)
	}
	return out, nil
}

func feedHash(t string) string {
	sum := sha256.Sum256([]byte("calendar-feed:" + t))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// CarryAll carries everyone on a cancelled meeting's agenda not yet dealt
// with to next, and returns the carries (register.CarryTo's rule).
func (s *Store) CarryAll(ctx context.Context, meetingID string, next *register.Meeting) ([]register.Carry, error) {
	to := ""
	if next != nil {
		to = next.ID
	}
	rows, _ := s.Pool.Query(ctx, `UPDATE agenda_items SET outcome='overflow', carried_to=$2
		WHERE meeting_id=$1 AND outcome='' RETURNING person_id::text, carried`, meetingID, to)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Carry, error) {
		var id string
		var carried int
		err := r.Scan(&id, &carried)
		return register.CarryTo(id, carried, next), err
	})
	if err != nil {
		return nil, fmt.Errorf("store: carry a cancelled meeting's agenda: %w", err)
	}
	return out, nil
}

// ReviewSince is the id of the person's newest review held at or after
// since; not found when none was.
func (s *Store) ReviewSince(ctx context.Context, personID string, since time.Time) (string, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `SELECT id::text FROM reviews WHERE person_id=$1 AND held_at >= $2 ORDER BY held_at DESC LIMIT 1`,
		personID, since).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", register.NotFound("review since the meeting began")
	}
	if err != nil {
		return "", fmt.Errorf("store: review since: %w", err)
	}
	return id, nil
}

// MeetingAction is an action a meeting gave: its owner and where it is.
type MeetingAction struct {
	Owner    string
	PersonID string
	ActionID string
}

// MeetingActions lists the open actions created for the people on a
// meeting's agenda from the meeting's day on, by owner: what the closing
// mails list.
func (s *Store) MeetingActions(ctx context.Context, meetingID string) ([]MeetingAction, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT lower(a.owner_email), a.person_id::text, a.id::text
		FROM actions a JOIN agenda_items ai ON ai.person_id = a.person_id AND ai.meeting_id = $1 AND ai.outcome <> 'overflow'
		JOIN meetings m ON m.id = ai.meeting_id
		WHERE a.status = 'open' AND a.created_at >= date_trunc('day', m.starts_at AT TIME ZONE 'Europe/London') AT TIME ZONE 'Europe/London'
		  AND (m.closed_at IS NULL OR a.created_at <= m.closed_at)
		ORDER BY 1, a.created_at, a.id`, meetingID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MeetingAction])
	if err != nil {
		return nil, fmt.Errorf("store: meeting actions: %w", err)
	}
	return out, nil
}

// Names gives the names of the people with these ids, for the meeting
// page (the caller audits the read).
func (s *Store) Names(ctx context.Context, ids []string) (map[string]string, error) {
	if ids == nil {
		ids = []string{}
	}
	rows, _ := s.Pool.Query(ctx, `SELECT id::text, given_name || ' ' || family_name FROM people WHERE id = ANY($1::uuid[])`, ids)
	out := map[string]string{}
	_, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var id, name string
		err := r.Scan(&id, &name)
		out[id] = name
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: names: %w", err)
	}
	return out, nil
}
