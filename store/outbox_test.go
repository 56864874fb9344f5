package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// person inserts a minimal referred person and returns the id.
func person(t *testing.T, st *store.Store) string {
	t.Helper()
	id := uuid.NewString()
	nhs := fmt.Sprintf("%010d", rand.Int64N(1e10)) // the table checks the shape only
	_, err := st.Pool.Exec(context.Background(), `INSERT INTO people (id, nhs_number, status, given_name, family_name, date_of_birth,
		consent_basis, consent_recorded_on, consent_recorded_by, referred_at)
		VALUES ($1, $2, 'referred', 'A', 'B', '1990-01-01', 'informed_consent', '2026-01-01', 'x', now())`, id, nhs)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Two attempts claim one notice at once: one sends, the other is told to
// wait. Without an owner every claimant was told to go ahead, and a notice
// being retried was sent a second time alongside.
func TestClaimHasOneOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	id := person(t, st)
	n := register.Notice{Kind: register.ReviewDue, Occasion: "2026-01-12T09:00:00Z", DueAt: time.Now()}
	const racers = 8
	var wg sync.WaitGroup
	got := make([]store.Claim, racers)
	for i := range racers {
		wg.Go(func() {
			c, err := st.ClaimNotice(ctx, id, n, uuid.NewString(), time.Minute)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		})
	}
	wg.Wait()
	claimed := 0
	for _, c := range got {
		if c == store.Claimed {
			claimed++
		} else if c != store.ClaimedElsewhere {
			t.Errorf("claim answered %q", c)
		}
	}
	if claimed != 1 {
		t.Fatalf("%d attempts claimed the notice, want 1", claimed)
	}

	// The owner claims again (its own retry); a stranger still waits.
	owner := "attempt-1"
	m := register.Notice{Kind: register.ReviewOverdue, Occasion: n.Occasion}
	for _, tt := range []struct {
		who  string
		want store.Claim
	}{{owner, store.Claimed}, {owner, store.Claimed}, {"attempt-2", store.ClaimedElsewhere}} {
		if c, err := st.ClaimNotice(ctx, id, m, tt.who, time.Minute); err != nil || c != tt.want {
			t.Errorf("%s: %q %v, want %q", tt.who, c, err, tt.want)
		}
	}
	// Released (the attempt failed), the next attempt takes it at once.
	if err := st.ReleaseNotice(ctx, m.Key(id), owner); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimNotice(ctx, id, m, "attempt-2", time.Minute); c != store.Claimed {
		t.Errorf("after release: %q", c)
	}
	// A lease that ran out (its worker died) is taken over.
	k := register.Notice{Kind: register.TriageOverdue, Occasion: n.Occasion}
	if c, _ := st.ClaimNotice(ctx, id, k, "dead", 10*time.Millisecond); c != store.Claimed {
		t.Fatalf("first claim: %q", c)
	}
	time.Sleep(50 * time.Millisecond)
	if c, _ := st.ClaimNotice(ctx, id, k, "alive", time.Minute); c != store.Claimed {
		t.Errorf("after the lease ran out: %q", c)
	}
	// Once sent, nobody sends it again.
	if _, err := st.PendingDeliveries(ctx, k.Key(id), []string{"a@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDelivery(ctx, k.Key(id), "a@example.org", store.DeliverySent, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FinishNotice(ctx, k.Key(id)); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimNotice(ctx, id, k, "late", time.Minute); c != store.AlreadySent {
		t.Errorf("after sending: %q", c)
	}
}

// Per-recipient outcomes: a retry resends only what was not confirmed, a
// refused address is final, and the notice is finished with who got it.
func TestDeliveriesPerRecipient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	id := person(t, st)
	n := register.Notice{Kind: register.ReviewDue, Occasion: "2026-01-12T09:00:00Z"}
	key := n.Key(id)
	if _, err := st.ClaimNotice(ctx, id, n, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	to := []string{"a@example.org", "b@example.org", "c@example.org"}
	pending, err := st.PendingDeliveries(ctx, key, to)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending %v %v", pending, err)
	}
	st.MarkDelivery(ctx, key, "a@example.org", store.DeliverySent, "")
	st.MarkDelivery(ctx, key, "b@example.org", store.DeliveryRefused, "550 5.1.1 No such user")
	st.MarkDelivery(ctx, key, "c@example.org", store.DeliveryPending, "451 try later")
	pending, _ = st.PendingDeliveries(ctx, key, to)
	if len(pending) != 1 || pending[0] != "c@example.org" {
		t.Fatalf("after one sent, one refused, one deferred: pending %v", pending)
	}
	st.MarkDelivery(ctx, key, "c@example.org", store.DeliverySent, "")
	refused, err := st.FinishNotice(ctx, key)
	if err != nil || refused != 1 {
		t.Fatalf("finish: %d refused, %v", refused, err)
	}
	rs, _ := st.Refusals(ctx, key)
	if len(rs) != 1 || rs[0].Address != "b@example.org" {
		t.Errorf("refusals %+v", rs)
	}
	var recipients []string
	st.Pool.QueryRow(ctx, `SELECT recipients FROM notices WHERE key = $1`, key).Scan(&recipients)
	if len(recipients) != 2 {
		t.Errorf("recipients %v, want a and c", recipients)
	}
}

// A rebuild (LoadState) counts only rungs confirmed sent or skipped: a
// claimed, unsent rung is sent again. A superseded claim left by a lost
// workflow is closed: skipped if nobody got it, sent to those who did.
func TestRebuildResendsUnconfirmed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	id := person(t, st)
	occ := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET status = 'active', rating = 'red', accepted_at = now(), next_review_due = $2 WHERE id = $1`, id, occ); err != nil {
		t.Fatal(err)
	}
	due := register.Notice{Kind: register.ReviewDue, Occasion: occ}
	over := register.Notice{Kind: register.ReviewOverdue, Occasion: occ}
	st.ClaimNotice(ctx, id, due, "gone", time.Millisecond)
	st.PendingDeliveries(ctx, due.Key(id), []string{"a@example.org", "b@example.org"})
	st.MarkDelivery(ctx, due.Key(id), "a@example.org", store.DeliverySent, "")
	s, err := st.LoadState(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Review.Done != 0 {
		t.Fatalf("a claimed, unconfirmed review-due counts as done (%d)", s.Review.Done)
	}
	time.Sleep(10 * time.Millisecond)
	// The rebuilt workflow woke after the due date: review-due is superseded.
	if err := st.SkipNotice(ctx, id, due); err != nil {
		t.Fatal(err)
	}
	if err := st.SkipNotice(ctx, id, over); err != nil {
		t.Fatal(err)
	}
	var status string
	var recipients []string
	st.Pool.QueryRow(ctx, `SELECT status, recipients FROM notices WHERE key = $1`, due.Key(id)).Scan(&status, &recipients)
	if status != "sent" || len(recipients) != 1 {
		t.Errorf("superseded half-sent claim: %s to %v, want sent to a", status, recipients)
	}
	if s, _ = st.LoadState(ctx, id); s.Review.Done != 2 {
		t.Errorf("after the skips, done %d, want 2", s.Review.Done)
	}
	// A claim whose lease is live is left to its owner.
	esc := register.Notice{Kind: register.ReviewEscalated, Occasion: occ, Level: 1}
	st.ClaimNotice(ctx, id, esc, "alive", time.Minute)
	st.SkipNotice(ctx, id, esc)
	st.Pool.QueryRow(ctx, `SELECT status FROM notices WHERE key = $1`, esc.Key(id)).Scan(&status)
	if status != "sending" {
		t.Errorf("a live claim was skipped from under its owner: %s", status)
	}
}

// An uncertain write is settled: when it was not written, it never will
// be (a late attempt is refused); when it was, the answer is yes. An update
// id used for another person or another body is refused, never taken as
// already applied.
func TestSettleAndReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	a, b := person(t, st), person(t, st)
	change := func(update, id, body string) register.Change {
		return register.Change{UpdateID: update, PersonID: id, Kind: register.ChangeProfessionals, At: time.Now(),
			Actor: register.Actor{Role: "coordinator"}, Key: register.IdempotencyKey{Scope: update + "-scope", BodyHash: body},
			Professionals: []register.Professional{{Name: "P", Email: "p@example.org"}}}
	}
	applied, err := st.SettleUpdate(ctx, "u1", a, register.IdempotencyKey{})
	if err != nil || applied {
		t.Fatalf("settling an update never written: %v %v", applied, err)
	}
	if err := st.ApplyChange(ctx, change("u1", a, "")); register.KindOf(err) != register.KindUnavailable {
		t.Errorf("a late attempt after the settlement: %v, want refused", err)
	}
	if err := st.ApplyChange(ctx, change("u2", a, "h1")); err != nil {
		t.Fatal(err)
	}
	if applied, _ := st.SettleUpdate(ctx, "u2", a, register.IdempotencyKey{}); !applied {
		t.Error("settling a written update: not applied")
	}
	if err := st.ApplyChange(ctx, change("u2", a, "h1")); err != nil {
		t.Errorf("a retry of the same change: %v", err)
	}
	for name, c := range map[string]register.Change{"another person": change("u2", b, "h1"), "another body": change("u2", a, "h2")} {
		if err := st.ApplyChange(ctx, c); register.KindOf(err) != register.KindConflict {
			t.Errorf("%s under a used update id: %v, want a conflict", name, err)
		}
	}
	use, err := st.IdempotencyKey(ctx, "u2-scope")
	if err != nil || use.Applied == nil && use.BodyHash != "h1" {
		t.Errorf("key use %+v %v", use, err)
	}
}
