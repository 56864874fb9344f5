package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

func TestTemporalPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "temporal.db")
	srv, err := StartTemporal(TemporalOptions{DatabaseFile: db})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: srv.Address()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	srv, err = StartTemporal(TemporalOptions{DatabaseFile: db})
	if err != nil {
		t.Fatalf("restart on existing database: %v", err)
	}
	defer srv.Stop()
}

// Visibility has its own SQLite file (its writes no longer wait behind the
// workflows'), which lists a workflow across a restart; a state directory
// from before the split, with no such file, keeps its one file.
func TestVisibilityInItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "temporal.db")
	listed := func(srv *Temporal, id string) bool {
		t.Helper()
		c, err := client.Dial(client.Options{HostPort: srv.Address()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if id != "" {
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "nobody"}, "Nothing"); err != nil {
				t.Fatal(err)
			}
		}
		for ctx.Err() == nil {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = 'w1'"})
			if err == nil && len(resp.GetExecutions()) == 1 {
				return true
			}
			time.Sleep(200 * time.Millisecond)
		}
		return false
	}
	srv, err := StartTemporal(TemporalOptions{DatabaseFile: db})
	if err != nil {
		t.Fatal(err)
	}
	if !listed(srv, "w1") {
		t.Fatal("the started workflow was never listed")
	}
	srv.Stop()
	if _, err := os.Stat(filepath.Join(dir, "temporal-visibility.db")); err != nil {
		t.Fatalf("no visibility file: %v", err)
	}
	if n := visibilityIndexCount(t, filepath.Join(dir, "temporal-visibility.db")); n != len(visibilityIndexes) {
		t.Errorf("the visibility file has %d indexes, want the %d kept", n, len(visibilityIndexes))
	}
	if srv, err = StartTemporal(TemporalOptions{DatabaseFile: db}); err != nil {
		t.Fatal(err)
	}
	if !listed(srv, "") {
		t.Error("after a restart the workflow is no longer listed")
	}
	srv.Stop()
	// Before the split: no visibility file beside the state.
	for _, f := range []string{"temporal-visibility.db", "temporal-visibility.db-wal", "temporal-visibility.db-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	if srv, err = StartTemporal(TemporalOptions{DatabaseFile: db}); err != nil {
		t.Fatalf("a state from before the split: %v", err)
	}
	defer srv.Stop()
	if _, err := os.Stat(filepath.Join(dir, "temporal-visibility.db")); err == nil {
		t.Error("a visibility file was made for a state that keeps one file")
	}
	if n := visibilityIndexCount(t, db); n != len(visibilityIndexes) {
		t.Errorf("the one file's visibility table has %d indexes, want the %d kept", n, len(visibilityIndexes))
	}
}

func TestKnownSetting(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"system.visibilityPersistenceMaxWriteQPS", true},
		{"history.queuePendingTaskCriticalCount", true},
		{"matching.numTaskqueueReadPartitions", true},
		{"history.visibilityPersistenceMaxWriteQPS", false}, // misspelt: the setting is system.
		{"no.such.setting", false},
	}
	for _, tt := range tests {
		if err := knownSetting(tt.key); (err == nil) != tt.ok {
			t.Errorf("knownSetting(%q) = %v; want ok %v", tt.key, err, tt.ok)
		}
	}
	if _, err := StartTemporal(TemporalOptions{DynamicConfig: map[string]any{"history.noSuchSetting": 1}}); err == nil || !strings.Contains(err.Error(), "history.noSuchSetting") {
		t.Errorf("a server with an unknown setting: %v; want an error naming it", err)
	}
}
