package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMigrateEmptyDatabaseTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)
	files, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 || files[0] != "001_users.sql" {
		t.Fatalf("Migrations() = %v", files)
	}

	v, err := store.Migrate(ctx, url)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if int(v) != len(files) {
		t.Fatalf("version after first run = %d, want %d", v, len(files))
	}
	v, err = store.Migrate(ctx, url)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if int(v) != len(files) {
		t.Fatalf("version after second run = %d, want %d", v, len(files))
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"users", "api_tokens"} {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", "public."+table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migration (err %v)", table, err)
		}
	}
}

// Two processes (say the worker and the API) migrating at once must not
// trip over each other.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() { _, err := store.Migrate(ctx, url); errs <- err }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion of an empty database = %d, %v", v, err)
	}
	if err := s.CheckSchema(ctx); err == nil {
		t.Fatal("CheckSchema passed on an empty database")
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after migrating: %v", err)
	}
}
