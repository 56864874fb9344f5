package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func londonTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, register.London)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// activePerson makes a person active at rating r with a review due.
func activePerson(t *testing.T, st *store.Store, r register.Rating, due time.Time, professional string) string {
	t.Helper()
	id := person(t, st)
	ctx := context.Background()
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET status='active', rating=$2, next_review_due=$3, accepted_at=now() WHERE id=$1`, id, string(r), due); err != nil {
		t.Fatal(err)
	}
	if professional != "" {
		if _, err := st.Pool.Exec(ctx, `INSERT INTO professionals (person_id, position, name, email) VALUES ($1, 0, 'P', $2)`, id, professional); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func TestMeetingSeriesAgendaAndCarryOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	if err := st.EnsureDefaultSeries(ctx, "0 10 * * TUE", 2); err != nil {
		t.Fatal(err)
	}
	// Again with other settings: the stored series is kept.
	if err := st.EnsureDefaultSeries(ctx, "0 9 * * MON", 5); err != nil {
		t.Fatal(err)
	}
	sr, err := st.Series(ctx, store.DefaultSeriesID)
	if err != nil || sr.Schedule != "0 10 * * TUE" || sr.EffectiveCapacity() != 2 {
		t.Fatalf("default series = %+v, %v", sr, err)
	}
	sr.Attendees = []string{"chair@example.org"}
	sr.Place = "https://meet.example.org/dsr"
	if err := st.SaveSeries(ctx, sr); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveSeries(ctx, register.Series{ID: "Bad Id", Name: "x", Schedule: "@weekly", Capacity: 1}); register.KindOf(err) != register.KindInvalid {
		t.Errorf("bad id: %v", err)
	}

	from := londonTime(t, "2026-03-16 00:00")
	ms, err := st.Meetings(ctx, sr.ID, from, from.AddDate(0, 0, 21))
	if err != nil || len(ms) != 3 {
		t.Fatalf("meetings = %d, %v", len(ms), err)
	}
	first, second := ms[0], ms[1]
	a := activePerson(t, st, register.Red, first.Start.AddDate(0, 0, -2), "sw@example.org")
	b := activePerson(t, st, register.Amber, first.Start, "nurse@example.org")
	c := activePerson(t, st, register.Green, first.Start.Add(-time.Hour), "")
	activePerson(t, st, register.Green, second.Start, "sw@example.org") // not due yet

	cands, err := st.Candidates(ctx, "", 5*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ag := register.PlanAgenda(first.Meeting, &second.Meeting, cands, first.Edits)
	if err := st.SaveAgenda(ctx, first, ag); err != nil {
		t.Fatal(err)
	}
	if got := []string{ag.Items[0].PersonID, ag.Items[1].PersonID}; !slices.Equal(got, []string{a, b}) || len(ag.Carried) != 1 || ag.Carried[0].PersonID != c {
		t.Fatalf("agenda %+v", ag)
	}
	// The overflow person now counts one carry.
	cands, _ = st.Candidates(ctx, "", 5*24*time.Hour)
	for _, cd := range cands {
		if want := map[bool]int{true: 1, false: 0}[cd.PersonID == c]; cd.Carried != want {
			t.Errorf("%s carried %d, want %d", cd.PersonID, cd.Carried, want)
		}
	}
	// A professional sees only their own people on the agenda.
	entries, err := st.Agenda(ctx, first.ID, register.Actor{Role: "professional", Email: "SW@example.org"})
	if err != nil || len(entries) != 1 || entries[0].PersonID != a {
		t.Errorf("professional's agenda = %+v, %v", entries, err)
	}
	all, _ := st.Agenda(ctx, first.ID, register.Actor{Role: "coordinator", Email: "c@example.org"})
	if len(all) != 3 || all[2].Outcome != "overflow" || all[2].CarriedTo != second.ID {
		t.Errorf("coordinator's agenda = %+v", all)
	}
	// Not discussed: carried again, counted.
	if err := st.SetOutcome(ctx, first.ID, b, "not-discussed", "", second.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.SetOutcome(ctx, first.ID, c, "reviewed", "", ""); register.KindOf(err) != register.KindNotFound {
		t.Errorf("outcome over an overflow row: %v", err)
	}
	if ok, err := st.CloseMeeting(ctx, first.ID); !ok || err != nil {
		t.Fatalf("close: %v %v", ok, err)
	}
	if ok, _ := st.CloseMeeting(ctx, first.ID); ok {
		t.Error("closed twice")
	}
	if err := st.MarkAgendaSent(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAgenda(ctx, first, ag); register.KindOf(err) != register.KindConflict {
		t.Errorf("replanning a sent agenda: %v", err)
	}

	// Moving a meeting keeps its id and raises its sequence; cancelling
	// raises it again.
	moved, err := st.ChangeMeeting(ctx, second.ID, second.Start.Add(2*time.Hour), false)
	if err != nil || moved.ID != second.ID || moved.Sequence != 1 || !moved.Start.Equal(second.Start.Add(2*time.Hour)) {
		t.Fatalf("moved = %+v, %v", moved, err)
	}
	// Listed from just after its slot, the moved meeting is still there.
	if after, _ := st.Meetings(ctx, sr.ID, second.Start.Add(time.Second), second.Start.AddDate(0, 0, 1)); len(after) != 1 || after[0].ID != second.ID {
		t.Errorf("moved meeting listed after its slot: %+v", after)
	}
	if _, err := st.ChangeMeeting(ctx, second.ID, second.Start.AddDate(0, 0, 29), false); register.KindOf(err) != register.KindInvalid {
		t.Errorf("moved 29 days: %v", err)
	}
	cancelled, err := st.ChangeMeeting(ctx, second.ID, time.Time{}, true)
	if err != nil || !cancelled.Cancelled || cancelled.Sequence != 2 {
		t.Fatalf("cancelled = %+v, %v", cancelled, err)
	}
	if _, err := st.ChangeMeeting(ctx, second.ID, time.Time{}, true); register.KindOf(err) != register.KindConflict {
		t.Errorf("cancel twice: %v", err)
	}
	extra, err := st.AddExtraMeeting(ctx, sr.ID, second.Start.Add(24*time.Hour), 0)
	if err != nil || !extra.Extra || extra.Capacity != 2 {
		t.Fatalf("extra = %+v, %v", extra, err)
	}
	ms, _ = st.Meetings(ctx, sr.ID, from, from.AddDate(0, 0, 21))
	if len(ms) != 4 || !ms[1].Cancelled || !ms[2].Extra {
		t.Errorf("meetings after changes = %+v", ms)
	}
	if got, err := st.Meeting(ctx, ms[3].ID); err != nil || !got.Start.Equal(ms[3].Start) {
		t.Errorf("unrecorded slot by id = %+v, %v", got, err)
	}
	if _, err := st.Meeting(ctx, "default-20260317T100001Z"); register.KindOf(err) != register.KindNotFound {
		t.Errorf("no such slot: %v", err)
	}
}

func TestCalendarFeedToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	u, err := st.UpsertUser(ctx, store.User{Email: "feed@example.org", Name: "F", Role: "professional"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.NewCalendarFeed(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.FeedUser(ctx, tok); err != nil || got.ID != u.ID {
		t.Fatalf("feed user = %+v, %v", got, err)
	}
	tok2, _ := st.NewCalendarFeed(ctx, u.ID)
	if _, err := st.FeedUser(ctx, tok); register.KindOf(err) != register.KindNotFound {
		t.Errorf("old token still opens: %v", err)
	}
	if err := st.RevokeCalendarFeed(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FeedUser(ctx, tok2); register.KindOf(err) != register.KindNotFound {
		t.Errorf("revoked token still opens: %v", err)
	}
	id := activePerson(t, st, register.Amber, time.Now().Add(48*time.Hour), "feed@example.org")
	dates, err := st.FeedDates(ctx, "FEED@example.org")
	if err != nil || len(dates) != 1 || dates[0].PersonID != id || dates[0].Kind != "review" {
		t.Errorf("feed dates = %+v, %v", dates, err)
	}
}

// A person whose C(E)TR has escalated and is still not held comes onto the
// agenda as escalated; once it is held, no longer.
func TestCandidatesEscalatedCETR(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	id := activePerson(t, st, register.Red, time.Now().AddDate(0, 1, 0), "")
	other := activePerson(t, st, register.Red, time.Now().AddDate(0, 1, 0), "")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := st.Pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{id, other} {
		exec(`INSERT INTO cetrs (person_id, id, kind, status, due, created_at) VALUES ($1, 'c1', 'community', 'due', now() - interval '3 days', now())`, p)
	}
	exec(`INSERT INTO notices (key, person_id, kind, occasion, level, status) VALUES ($1, $2, 'cetr-escalated', 'c1', 1, 'sent')`, id+"/cetr-escalated/c1/1", id)
	exec(`INSERT INTO notices (key, person_id, kind, occasion, level, status) VALUES ($1, $2, 'cetr-overdue', 'c1', 0, 'sent')`, other+"/cetr-overdue/c1/0", other)
	escalated := func() map[string]bool {
		cands, err := st.Candidates(ctx, "", 5*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, c := range cands {
			out[c.PersonID] = c.Escalated
		}
		return out
	}
	if got := escalated(); !got[id] || got[other] {
		t.Errorf("escalated = %v; want only %s (a C(E)TR escalated, not held)", got, id)
	}
	exec(`UPDATE cetrs SET status = 'held', held_at = now() WHERE person_id = $1`, id)
	if got := escalated(); got[id] {
		t.Errorf("still escalated after the C(E)TR was held")
	}
}
