package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/workflows"
)

// historyDir is where the replay test in workflows/ reads recorded
// histories from.
const historyDir = "../workflows/testdata/histories"

// TestRecordHistories records real workflow histories for the replay test.
// It runs only when asked (DSR_RECORD_HISTORIES=1, or =VERSION to record
// beside the old ones as VERSION-*.json), after a deliberate change
// to the workflow: recording over old histories would hide exactly the
// non-determinism the replay test is there to catch.
func TestRecordHistories(t *testing.T) {
	if os.Getenv("DSR_RECORD_HISTORIES") == "" {
		t.Skip("set DSR_RECORD_HISTORIES=1 to record workflow histories")
	}
	key, err := os.ReadFile(filepath.Join(historyDir, "payload-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// With the C(E)TR clocks at second scale, so histories of the
	// cetr-clocks version carry their ladders and updates.
	s := newStackWithKey(t, fastClocks(), string(key))

	// A whole life: referral, accepted red, the full review ladder, a
	// review with an action, a rating change, the action completed,
	// discharge.
	id := s.referAndAccept("943 476 5919")
	s.waitNth("review-escalated", id, 3, 40*time.Second)
	var rec struct {
		Actions []struct{ ID string }
	}
	s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/reviews", map[string]any{
		"rag": "amber", "current_issues": "calmer", "notes": "review held at home",
		"actions": []map[string]any{{"description": "book respite", "owner_email": "sw@example.org", "due": time.Now().Add(time.Hour).Format(time.RFC3339)}},
	}, nil)
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &rec)
	s.must(http.StatusOK, "sw@example.org", "PUT", "/people/"+id+"/rag", map[string]any{"rag": "red", "reason": "placement breaking down"}, nil)
	s.must(http.StatusOK, "sw@example.org", "POST", "/people/"+id+"/actions/"+rec.Actions[0].ID+"/complete", map[string]any{"outcome": "respite booked"}, nil)
	if os.Getenv("DSR_RECORD_HISTORIES") != "1" {
		// The clocks' updates (cetr-clocks): an LAEP meeting held, the
		// keyworker, consent renewed.
		s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/cetrs", map[string]any{
			"kind": "laep", "held_at": time.Now().UTC().Format(time.RFC3339), "chair": "Dr Chair"}, nil)
		s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/keyworker", map[string]any{"name": "Kay Worker", "email": "kw@example.org"}, nil)
		s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/consent", map[string]any{"basis": "informed_consent", "details": "asked again"}, nil)
	}
	s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/professionals", map[string]any{"professionals": []map[string]any{
		{"name": "Sam Worker", "role": "Social worker", "organisation": "SBC", "email": "sw@example.org", "manager_email": "mgr@example.org"}}}, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/discharge", map[string]any{"reason": "moved out of area"}, nil)
	s.saveHistory(id, "life.json")

	// A declined referral.
	var created struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral("401 023 2137", "Bo"), &created)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+created.ID+"/triage", map[string]any{"decision": "decline", "reason": "criteria not met"}, nil)
	s.saveHistory(created.ID, "declined.json")

	// A run that continues as new after every wake (the reconciler's start,
	// with the state loaded from the record).
	id = s.referAndAccept("450 557 7104")
	run, err := s.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: workflows.WorkflowID(id) + "-can", TaskQueue: starter.TaskQueue,
	}, workflows.PersonWorkflowName, workflows.Input{PersonID: id, ContinueAfter: 1})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(15 * time.Second)
	s.saveRun(run.GetID(), run.GetRunID(), "continue-as-new.json")
}

func (s *stack) saveHistory(personID, name string) {
	s.t.Helper()
	// Wait for the workflow to reach a quiet point (closed, or idle).
	time.Sleep(2 * time.Second)
	s.saveRun(workflows.WorkflowID(personID), "", name)
}

func (s *stack) saveRun(workflowID, runID, name string) {
	s.t.Helper()
	it := s.client.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		s.t.Fatal(err)
	}
	// DSR_RECORD_HISTORIES=1 writes the plain names; any other value names
	// a workflow version, recorded beside the older histories (which stay:
	// running workflows of every version must keep replaying).
	if v := os.Getenv("DSR_RECORD_HISTORIES"); v != "1" {
		name = v + "-" + name
	}
	if err := os.WriteFile(filepath.Join(historyDir, name), raw, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("recorded %s: %d events", name, len(h.Events))
}
