package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bsw-dsr/dsr/register"
)

// A person with distinctive details goes through the whole register:
// referral, triage, a review with notes and an action, a rating change, a
// second action completed with an outcome, a refused review, discharge.
// Then nothing that identifies them, nor anything written about them, may
// be found in the application's log, in any workflow's ID, memo or search
// attributes, or in any event of any workflow history read raw (a client
// without the payload codec), whether the event is encoded as protobuf or
// as JSON.
//
// The metrics (the API's, the worker's and the Temporal SDK's, on one
// registry as in dsr dev) are scanned too: they must hold none of it, nor
// the person's id, nor any user's email.
func TestNoPersonalDataInLogsOrTemporal(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	nhs := nhsNumber(777123)
	if nhs == "" {
		t.Fatal("no NHS number for the seed")
	}
	spaced := nhs[:3] + " " + nhs[3:6] + " " + nhs[6:]
	secrets := []string{
		"Zebedee", "Quixote-Smythe", nhs, spaced, "1987-03-14", "14/03/1987",
		"17 Marlowe Crescent", "SN9 9ZQ", "SN99ZQ",
		"Kestrel-issues", "Pangolin-tried", "Narwhal-could-help",
		"Nebuchadnezzar-notes", "Quokka-action-plan", "Quokka-second-action", "Xylophone-reason",
		"Wombat-outcome", "Zanzibar-discharge", "Ocelot-refused-notes",
	}

	body := referral(spaced, "Zebedee")
	p := body["person"].(map[string]any)
	p["family_name"], p["date_of_birth"], p["address"], p["postcode"] = "Quixote-Smythe", "1987-03-14", "17 Marlowe Crescent", "SN9 9ZQ"
	body["current_issues"], body["tried"], body["could_help"] = "Kestrel-issues", "Pangolin-tried", "Narwhal-could-help"
	var created struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", body, &created)
	id := created.ID
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/triage", map[string]any{"decision": "accept", "rag": "red"}, nil)
	due := time.Now().Add(72 * time.Hour).Format(time.RFC3339)
	s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/reviews", map[string]any{
		"rag": "red", "current_issues": "Kestrel-issues", "tried": "Pangolin-tried", "could_help": "Narwhal-could-help",
		"notes": "Nebuchadnezzar-notes", "needs": []string{"respite"},
		"actions": []map[string]any{{"description": "Quokka-action-plan", "owner_email": "sw@example.org", "due": due}},
	}, nil)
	s.must(http.StatusOK, "sw@example.org", "PUT", "/people/"+id+"/rag", map[string]any{"rag": "amber", "reason": "Xylophone-reason"}, nil)
	var act struct{ ID string }
	s.must(http.StatusCreated, "nurse@example.org", "POST", "/people/"+id+"/actions",
		map[string]any{"description": "Quokka-second-action", "owner_email": "sw@example.org", "due": due}, &act)
	s.must(http.StatusOK, "sw@example.org", "POST", "/people/"+id+"/actions/"+act.ID+"/complete", map[string]any{"outcome": "Wombat-outcome"}, nil)
	// Refused by the workflow's validator: a review held in the future.
	s.must(http.StatusUnprocessableEntity, "sw@example.org", "POST", "/people/"+id+"/reviews", map[string]any{
		"rag": "red", "notes": "Ocelot-refused-notes", "held_at": time.Now().Add(24 * time.Hour).Format(time.RFC3339)}, nil)
	s.must(http.StatusOK, "sw@example.org", "GET", "/people/"+id, nil, nil)
	s.must(http.StatusOK, "coord@example.org", "GET", "/people?status=active", nil, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/discharge", map[string]any{"reason": "Zanzibar-discharge"}, nil)

	// The record holds them (so they went through the system)...
	var rec struct {
		GivenName string `json:"given_name"`
		Reviews   []register.Review
		Actions   []register.Action
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &rec)
	if rec.GivenName != "Zebedee" || len(rec.Reviews) != 1 || rec.Reviews[0].Notes != "Nebuchadnezzar-notes" || len(rec.Actions) != 2 {
		t.Fatalf("the record does not hold what was sent: %+v", rec)
	}
	s.stopWorkerNow() // every activity done and logged

	// ...and the log does not.
	logs := s.logText()
	if len(logs) < 1000 {
		t.Fatalf("only %d bytes of log: the scan would prove nothing", len(logs))
	}
	for _, secret := range secrets {
		if i := strings.Index(strings.ToLower(logs), strings.ToLower(secret)); i >= 0 {
			t.Errorf("the application log holds %q: …%s…", secret, logs[max(0, i-200):min(len(logs), i+100)])
		}
	}

	// Nor do the metrics, once they show the run.
	scanMetrics(t, s, append(slices.Clone(secrets), id, "@example.org", "Cora", "Ordinator"))

	// Temporal, read without the codec.
	raw, err := client.Dial(client.Options{HostPort: s.temporal.Address(), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	// Control: a workflow started without the codec holds the secret in the
	// clear, and the scan finds it, so the scan below can fail.
	control, err := raw.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "privacy-control", TaskQueue: "nobody-polls"}, "Nothing", "Nebuchadnezzar-notes")
	if err != nil {
		t.Fatal(err)
	}
	if found := scanHistory(ctx, t, raw, control.GetID(), secrets); len(found) == 0 {
		t.Fatal("control: the scan did not find a secret stored in the clear")
	}
	raw.TerminateWorkflow(ctx, control.GetID(), "", "control done")

	var execs []string
	var token []byte
	events := 0
	for {
		resp, err := raw.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Executions {
			wid := e.GetExecution().GetWorkflowId()
			if wid == control.GetID() {
				continue
			}
			execs = append(execs, wid)
			// The workflow's ID, type, memo and search attributes.
			js, _ := protojson.Marshal(e)
			bin, _ := proto.Marshal(e)
			for _, secret := range secrets {
				if bytes.Contains(js, []byte(secret)) || bytes.Contains(bin, []byte(secret)) {
					t.Errorf("workflow %s: its ID, memo or search attributes hold %q", wid, secret)
				}
			}
			found := scanHistory(ctx, t, raw, wid, secrets)
			events += len(found["events"])
			delete(found, "events")
			for secret, where := range found {
				t.Errorf("workflow %s: history events %v hold %q", wid, where, secret)
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	wantID := "person-" + id
	if !strings.Contains(strings.Join(execs, " "), wantID) {
		t.Fatalf("the person's workflow %s is not among %v", wantID, execs)
	}
	t.Logf("scanned %d workflows, %d history events, %d bytes of log", len(execs), events, len(logs))
}

// scanMetrics scrapes the stack's /metrics, checks that the run shows in
// it (so the scan can find something) and that no secret does.
func scanMetrics(t *testing.T, s *stack, secrets []string) {
	t.Helper()
	srv := httptest.NewServer(s.metrics.Handler())
	defer srv.Close()
	var text string
	// The register gauges are refreshed every second: wait for one.
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if strings.Contains(text, `dsr_people{rating="amber",status="discharged"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{
		`dsr_http_request_duration_seconds_count{code="201",method="POST",route="/api/v1/referrals"} 1`,
		`dsr_http_request_duration_seconds_count{code="200",method="POST",route="/api/v1/people/{id}/triage"} 1`,
		`dsr_update_duration_seconds_count{update="triage"} 1`,
		`dsr_update_duration_seconds_count{update="record-review"} 2`, // one written, one refused
		`dsr_notice_copies_total{kind="referral-received",outcome="sent"}`,
		`dsr_notice_lag_seconds_count{kind="referral-received"}`,
		`dsr_people{rating="amber",status="discharged"} 1`,
		`dsr_notice_oldest_unsent_age_seconds`,
		`dsr_db_pool_acquired_conns`,
		`temporal_request_total{`,
		`temporal_workflow_task_execution_latency_seconds_bucket{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, secret := range secrets {
		if i := strings.Index(strings.ToLower(text), strings.ToLower(secret)); i >= 0 {
			t.Errorf("/metrics holds %q: …%s…", secret, text[max(0, i-200):min(len(text), i+100)])
		}
	}
	t.Logf("scanned %d bytes of metrics", len(text))
}

// scanHistory reads a workflow's whole history and returns, per secret,
// the ids of the events holding it (as protobuf bytes or as protojson),
// and under "events" every event id read.
func scanHistory(ctx context.Context, t *testing.T, c client.Client, wid string, secrets []string) map[string][]int64 {
	t.Helper()
	found := map[string][]int64{}
	it := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("%s: %v", wid, err)
		}
		found["events"] = append(found["events"], e.EventId)
		bin, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		js, err := protojson.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		// Payload data is base64 in JSON: case-folded, random ciphertext
		// can hold "sn99zq" by chance (some 12,600 such characters a run:
		// about 3 runs in a million). Its bytes are scanned as they are,
		// in bin; the case-blind JSON scan is for the text fields.
		js = bytes.ToLower(payloadData.ReplaceAll(js, []byte(`"data":""`)))
		for _, secret := range secrets {
			if bytes.Contains(bin, []byte(secret)) || bytes.Contains(js, bytes.ToLower([]byte(secret))) {
				found[secret] = append(found[secret], e.EventId)
			}
		}
	}
	return found
}

// payloadData matches a payload's data as protojson writes it (base64,
// with or without a space after the colon).
var payloadData = regexp.MustCompile(`"data":\s*"[A-Za-z0-9+/=]*"`)

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
