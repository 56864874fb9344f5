package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// insertReferred adds a referred person straight to the table and returns
// the id.
func insertReferred(t *testing.T, st *store.Store, nhs string) string {
	t.Helper()
	id := uuid.NewString()
	_, err := st.Pool.Exec(context.Background(), `INSERT INTO people (id, nhs_number, status, given_name, family_name, date_of_birth,
		consent_basis, consent_recorded_on, consent_recorded_by, referred_at)
		VALUES ($1, $2, 'referred', 'A', 'B', '1990-01-01', 'informed_consent', '2026-01-01', 'x', now())`, id, nhs)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A start that fails (Temporal refused one person's workflow) is logged
// and the pass goes on: everyone after it still gets a workflow, and the
// error says how many failed. The pass used to stop at the first failure.
func TestReconcileGoesOnPastAFailedStart(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, insertReferred(t, st, fmt.Sprintf("%010d", 1000+i)))
	}
	ids, _ = st.OpenPeople(ctx) // in the order the pass takes them
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(&logs, io.Discard), nil))
	var started []string
	n, err := reconcile(ctx, st, logger, time.Time{}, func(_ context.Context, id string) error {
		if id == ids[1] {
			return errors.New("temporal said no")
		}
		started = append(started, id)
		return nil
	})
	if n != 4 || len(started) != 3 || started[2] != ids[3] {
		t.Errorf("checked %d, started %d (%v); want every person but the failed one", n, len(started), started)
	}
	if err == nil || !strings.Contains(err.Error(), "1 of 4") {
		t.Errorf("error %v, want one of four failed", err)
	}
	if !strings.Contains(logs.String(), ids[1]) {
		t.Errorf("the failed person's id was not logged:\n%s", logs.String())
	}
}

// Between full passes, only people referred or imported lately are
// checked: at 100,000 people a full pass every ten minutes would keep a
// core busy.
func TestReconcileSinceChecksOnlyTheRecent(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	insert := func(nhs string, referred, imported string) string {
		id := uuid.NewString()
		_, err := st.Pool.Exec(ctx, `INSERT INTO people (id, nhs_number, status, given_name, family_name, date_of_birth,
			consent_basis, consent_recorded_on, consent_recorded_by, referred_at, imported_at, import_key)
			VALUES ($1::uuid, $2, 'referred', 'A', 'B', '1990-01-01', 'informed_consent', '2026-01-01', 'x', now() - $3::interval, now() - $4::interval, $1::text)`,
			id, nhs, referred, imported)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := insert("2000000001", "2 days", "2 days")
	recent := insert("2000000002", "1 minute", "2 days")
	reimported := insert("2000000003", "30 days", "5 minutes")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	checked := func(since time.Time) map[string]bool {
		got := map[string]bool{}
		if _, err := reconcile(ctx, st, logger, since, func(_ context.Context, id string) error { got[id] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := checked(time.Now().Add(-time.Hour)); len(got) != 2 || !got[recent] || !got[reimported] {
		t.Errorf("recent pass checked %v; want only %s and %s", got, recent, reimported)
	}
	if got := checked(time.Time{}); len(got) != 3 || !got[old] {
		t.Errorf("full pass checked %v; want all three", got)
	}
}

// A pass skips the people whose workflows visibility lists as running, or
// Temporal describes as running when visibility lags, and starts only the
// rest: at 100,000 people a no-op start for everyone kept a core busy for
// minutes.
func TestReconcileSkipsTheRunning(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	c := testenv.Temporal(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, insertReferred(t, st, fmt.Sprintf("%010d", 3000+i)))
	}
	// Two run already (no worker here: their first tasks wait, and
	// visibility lists them as running).
	for _, id := range ids[:2] {
		if err := starter.StartPerson(ctx, c, id); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		running, err := runningPeople(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if running[workflows.WorkflowID(ids[0])] && running[workflows.WorkflowID(ids[1])] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("visibility never listed the two running workflows")
		}
		time.Sleep(200 * time.Millisecond)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var started []string
	pass := unlessRunning(ctx, c, logger, rate.NewLimiter(rate.Inf, 1), func(_ context.Context, id string) error {
		started = append(started, id)
		return nil
	})
	// One starts after the pass listed the running: visibility does not
	// list it, but it runs, and the pass must not try to start it.
	if err := starter.StartPerson(ctx, c, ids[3]); err != nil {
		t.Fatal(err)
	}
	n, err := reconcile(ctx, st, logger, time.Time{}, pass)
	if err != nil || n != 4 {
		t.Fatalf("reconcile: %d, %v", n, err)
	}
	if len(started) != 1 || started[0] != ids[2] {
		t.Errorf("started %v; want only %s, the one not running", started, ids[2])
	}
}
