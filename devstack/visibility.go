package devstack

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // the driver Temporal's SQLite plugin uses
)

// visibilityIndexes are the indexes of Temporal's SQLite visibility table
// that an embedded server keeps: those its UI and our reconciler sort or
// filter by (type, status, ID, task queue, times) and those schedules and
// worker versioning query. The schema makes 58, one per column a query
// can name, including 25 custom search attributes the register never
// defines and Temporal's reserved ones; every visibility write (a
// workflow's start, its first task's BuildIds, its close) rewrites each
// of them twice, as the plugin writes with REPLACE. A query on a column
// whose index is gone still answers, from a scan.
var visibilityIndexes = map[string]bool{
	"default_idx":                              true,
	"by_execution_time":                        true,
	"by_workflow_id":                           true,
	"by_workflow_type":                         true,
	"by_status":                                true,
	"by_task_queue":                            true,
	"by_temporal_scheduled_start_time":         true,
	"by_temporal_scheduled_by_id":              true,
	"by_temporal_schedule_paused":              true,
	"by_temporal_namespace_division":           true,
	"by_temporal_worker_deployment":            true,
	"by_temporal_worker_deployment_version":    true,
	"by_temporal_workflow_versioning_behavior": true,
}

// trimVisibility drops the visibility indexes an embedded server does not
// need (visibilityIndexes) from the SQLite file, and says how many it
// dropped. It is idempotent, so a state directory made before it is
// trimmed on its next start.
func trimVisibility(ctx context.Context, file string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", file, err)
	}
	defer db.Close()
	names, err := visibilityIndexNames(ctx, db)
	if err != nil {
		return 0, err
	}
	var drop []string
	for _, name := range names {
		if !visibilityIndexes[name] {
			drop = append(drop, name)
		}
	}
	for _, name := range drop {
		// The names come from sqlite_master; quoted all the same.
		if _, err := db.ExecContext(ctx, `DROP INDEX IF EXISTS "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return 0, fmt.Errorf("drop visibility index %s: %w", name, err)
		}
	}
	return len(drop), nil
}

// visibilityIndexNames lists the indexes on the visibility table (not
// SQLite's own automatic ones, which have no SQL).
func visibilityIndexNames(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list visibility indexes: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list visibility indexes: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list visibility indexes: %w", err)
	}
	return names, nil
}
