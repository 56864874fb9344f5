package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/cli"
	"github.com/bsw-dsr/dsr/worker"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestRetention, with DSR_RETAIN_CLOSED_FOR=15s: a discharged episode past
// the period is gone from every table holding person data and from
// Temporal, while a live record, a record closed just now, and the person's
// later episode are untouched; the audit log keeps its entries about the
// deleted episode (by opaque id) and gains one for the run, with counts
// only; an anonymised count is kept; the dry run lists the id and changes
// nothing.
func TestRetention(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.stopWorkerNow()
	s.mu.Lock()
	s.cfg.RetainClosedFor = 15 * time.Second
	s.mu.Unlock()
	s.startWorker()

	nhs := nhsNumbers(4470, 3)
	expired := s.referAndAccept(nhs[0])
	s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+expired+"/actions",
		map[string]any{"description": "Arrange respite", "owner_email": "sw@example.org", "due": time.Now().Add(72 * time.Hour).Format(time.RFC3339)}, nil)
	s.must(http.StatusOK, "coord@example.org", "PATCH", "/people/"+expired, map[string]any{"locality": "Wiltshire", "reason": "moved"}, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+expired+"/discharge", map[string]any{"reason": "support ended"}, nil)
	live := s.referAndAccept(nhs[1])
	recent := s.referAndAccept(nhs[2])
	time.Sleep(16 * time.Second) // past the retention period
	// The same person referred again: a later, open episode linked to the
	// expired one.
	var again struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs[0], "Alex"), &again)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+recent+"/discharge", map[string]any{"reason": "closed just now"}, nil)

	var auditBefore int
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE person_id = $1`, expired).Scan(&auditBefore)
	rows := func(id string) map[string]int {
		tables, _ := s.store.Pool.Query(ctx, `SELECT table_name FROM information_schema.columns
			WHERE table_schema = 'public' AND column_name = 'person_id' AND table_name <> 'audit_log'`)
		var names []string
		for tables.Next() {
			var n string
			tables.Scan(&n)
			names = append(names, n)
		}
		tables.Close()
		m := map[string]int{}
		for _, n := range append(names, "people") {
			col := "person_id"
			if n == "people" {
				col = "id"
			}
			var c int
			if err := s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM `+n+` WHERE `+col+` = $1`, id).Scan(&c); err != nil {
				t.Fatal(err)
			}
			if c > 0 {
				m[n] = c
			}
		}
		return m
	}
	held := rows(expired)
	for _, table := range []string{"people", "professionals", "actions", "rating_history", "notices", "person_corrections"} {
		if held[table] == 0 {
			t.Fatalf("before the run, the expired episode has no rows in %s (%v): the test would prove nothing", table, held)
		}
	}

	// The dry run: the expired id alone, and nothing changes.
	var out, errb bytes.Buffer
	code := cli.Main(cli.Env{Args: []string{"retention", "--dry-run"}, Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
		Getenv: func(k string) string {
			return map[string]string{"DATABASE_URL": s.store.Pool.Config().ConnString(), "DSR_RETAIN_CLOSED_FOR": "15s"}[k]
		}})
	if code != 0 || strings.TrimSpace(out.String()) != expired {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %q; want the expired id alone", code, out.String(), errb.String())
	}
	if after := rows(expired); len(after) != len(held) || after["people"] != 1 {
		t.Fatalf("the dry run changed something: %v, was %v", after, held)
	}

	// The schedule exists; run it now, as it would at 02:30.
	if _, err := s.client.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID).Describe(ctx); err != nil {
		t.Errorf("no retention schedule: %v", err)
	}
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "retention-now", TaskQueue: worker.TaskQueue}, workflows.RetentionWorkflowName)
	if err != nil {
		t.Fatal(err)
	}
	var rep workflows.RetentionReport
	if err := run.Get(ctx, &rep); err != nil || rep.Found != 1 || rep.Deleted != 1 {
		t.Fatalf("retention run: %+v, %v (the episode closed just now is %s)", rep, err, recent)
	}

	if left := rows(expired); len(left) != 0 {
		t.Errorf("the expired episode is still in %v", left)
	}
	for _, id := range []string{live, recent, again.ID} {
		if r := rows(id); r["people"] != 1 || r["professionals"] == 0 {
			t.Errorf("%s was touched: %v", id, r)
		}
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+live, nil, nil)
	var prev *string
	s.store.Pool.QueryRow(ctx, `SELECT previous_id::text FROM people WHERE id = $1`, again.ID).Scan(&prev)
	if prev != nil {
		t.Errorf("the later episode still points to the deleted one: %v", *prev)
	}
	var auditAfter, runs int
	var detail string
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE person_id = $1`, expired).Scan(&auditAfter)
	if auditAfter != auditBefore || auditBefore == 0 {
		t.Errorf("audit entries for the deleted episode: %d before, %d after", auditBefore, auditAfter)
	}
	s.store.Pool.QueryRow(ctx, `SELECT count(*), max(detail) FROM audit_log WHERE action = 'retention' AND person_id IS NULL`).Scan(&runs, &detail)
	if runs != 1 || !strings.Contains(detail, "1 deleted") || strings.Contains(detail, expired) {
		t.Errorf("the run's audit: %d entries, %q", runs, detail)
	}
	var kept int
	s.store.Pool.QueryRow(ctx, `SELECT coalesce(sum(episodes), 0) FROM retention_deleted WHERE status = 'discharged'`).Scan(&kept)
	if kept != 1 {
		t.Errorf("anonymised count kept: %d, want 1", kept)
	}
	// Temporal keeps nothing of it (deletion there is asynchronous).
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(expired), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the deleted person's workflow is still in Temporal: %v", err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A summary reaching back past the retention horizon says it leaves
	// deleted records out (the API here runs with the default six years);
	// one within it does not.
	var sum struct {
		IncompleteBefore *time.Time `json:"incomplete_before"`
		Note             string     `json:"note"`
	}
	s.must(http.StatusOK, "comm@example.org", "GET", "/reports/summary?from="+time.Now().AddDate(-7, 0, 0).Format(time.DateOnly), nil, &sum)
	if sum.IncompleteBefore == nil || sum.Note == "" {
		t.Errorf("the report does not say it leaves deleted records out: %+v", sum)
	}
	sum.IncompleteBefore = nil
	s.must(http.StatusOK, "comm@example.org", "GET", "/reports/summary", nil, &sum)
	if sum.IncompleteBefore != nil {
		t.Errorf("a report of the last year says it is incomplete: %+v", sum)
	}

	// Deleting again does nothing.
	if ok, err := s.store.DeleteExpired(ctx, expired, time.Now()); ok || err != nil {
		t.Errorf("second deletion: %v, %v", ok, err)
	}
}
