package devstack

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// visibilityDB makes a visibility SQLite file as StartTemporal does,
// trimmed or not, and opens it through Temporal's own plugin.
func visibilityDB(tb testing.TB, trim bool) (sqlplugin.DB, string) {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "temporal-visibility.db")
	conf := &config.SQL{PluginName: sqliteplugin.PluginName, DatabaseName: file,
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"}}
	if err := sqliteschema.SetupSchema(conf); err != nil {
		tb.Fatal(err)
	}
	if trim {
		if _, err := trimVisibility(context.Background(), file); err != nil {
			tb.Fatal(err)
		}
	}
	db, err := persistencesql.NewSQLDB(sqlplugin.DbKindVisibility, conf, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, file
}

// visibilityRow is a person's workflow as visibility records it after its
// first task: running, with the BuildIds its worker stamped.
func visibilityRow(i int, version int64) *sqlplugin.VisibilityRow {
	start := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	sa := sqlplugin.VisibilitySearchAttributes{"BuildIds": []string{"unversioned", "unversioned:0123456789abcdef"}}
	return &sqlplugin.VisibilityRow{
		NamespaceID: "ns", RunID: fmt.Sprintf("run-%06d", i), WorkflowTypeName: "PersonWorkflow",
		WorkflowID: fmt.Sprintf("person-%06d", i), StartTime: start, ExecutionTime: start, Status: 1,
		Encoding: "Proto3", TaskQueue: "dsr", SearchAttributes: &sa, RootWorkflowID: fmt.Sprintf("person-%06d", i),
		RootRunID: fmt.Sprintf("run-%06d", i), Version: version,
	}
}

// TestTrimVisibility: the trim keeps the indexes visibility queries
// need, drops the rest, finds nothing to drop a second time, and the
// trimmed table still answers the reconciler's query.
func TestTrimVisibility(t *testing.T) {
	ctx := context.Background()
	db, file := visibilityDB(t, true)
	n, err := trimVisibility(ctx, file)
	if err != nil || n != 0 {
		t.Fatalf("second trim: dropped %d, %v; want 0, nil", n, err)
	}
	inspect, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer inspect.Close()
	names, err := visibilityIndexNames(ctx, inspect)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, name := range names {
		kept[name] = true
	}
	for name := range visibilityIndexes {
		if !kept[name] {
			t.Errorf("index %s was dropped or never existed", name)
		}
	}
	if len(kept) != len(visibilityIndexes) {
		t.Errorf("kept %d indexes, want %d", len(kept), len(visibilityIndexes))
	}
	for i := range 3 {
		if _, err := db.ReplaceIntoVisibility(ctx, visibilityRow(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	var count int
	if err := inspect.QueryRowContext(ctx, `SELECT COUNT(*) FROM executions_visibility WHERE workflow_type_name = 'PersonWorkflow' AND status = 1`).Scan(&count); err != nil || count != 3 {
		t.Errorf("running people: %d, %v; want 3", count, err)
	}
}

// BenchmarkVisibilityWrite: one visibility write (a first task's BuildIds
// upsert) into a table of 10,000 running workflows, with Temporal's whole
// schema and with the embedded server's trimmed one.
func BenchmarkVisibilityWrite(b *testing.B) {
	for _, trim := range []bool{false, true} {
		b.Run(map[bool]string{false: "all-indexes", true: "trimmed"}[trim], func(b *testing.B) {
			ctx := context.Background()
			db, _ := visibilityDB(b, trim)
			const rows = 10_000
			for i := range rows {
				if _, err := db.ReplaceIntoVisibility(ctx, visibilityRow(i, 1)); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := db.ReplaceIntoVisibility(ctx, visibilityRow(i%rows, int64(2+i/rows))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// visibilityIndexCount is how many indexes the visibility table in file has.
func visibilityIndexCount(t *testing.T, file string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names, err := visibilityIndexNames(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}
