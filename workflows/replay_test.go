package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// (e2e.TestRecordHistories) against today's workflow code: a change that
// would break running workflows fails here.
func TestReplayRecordedHistories(t *testing.T) {
	dir := filepath.Join("testdata", "histories")
	key, err := os.ReadFile(filepath.Join(dir, "payload-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(string(key))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d recorded histories, want at least 3", len(files))
	}
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
				DataConverter:    codec.DataConverter(c),
				FailureConverter: codec.FailureConverter(c),
			})
			if err != nil {
				t.Fatal(err)
			}
			p := &workflows.Person{Timing: cfg.Timing}
			r.RegisterWorkflowWithOptions(p.Run, workflow.RegisterOptions{Name: workflows.PersonWorkflowName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
