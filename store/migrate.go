package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable is tern's record of the schema version.
const versionTable = "public.schema_version"

// Migrate brings the database at url up to the newest schema. Running it
// again does nothing; two processes running it at once are serialised by
// tern's advisory lock.
func Migrate(ctx context.Context, url string) (version int32, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.Background())
	return MigrateConn(ctx, conn)
}

// MigrateWithAppRole migrates like Migrate and then, when appRole is set,
// gives that role the application's privileges with GrantAppRole.
func MigrateWithAppRole(ctx context.Context, url, appRole string) (version int32, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if version, err = MigrateConn(ctx, conn); err != nil || appRole == "" {
		return version, err
	}
	return version, GrantAppRole(ctx, conn, appRole)
}

// Migrate applies the migrations over one of the pool's connections.
func (s *Store) Migrate(ctx context.Context) (int32, error) {
	c, err := s.Pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer c.Release()
	return MigrateConn(ctx, c.Conn())
}

// MigrateConn applies the migrations over conn and returns the schema
// version reached.
func MigrateConn(ctx context.Context, conn *pgx.Conn) (int32, error) {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return 0, fmt.Errorf("migrate: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	v, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	return v, nil
}

// Migrations lists the embedded migration files in order.
func Migrations() ([]string, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return migrate.FindMigrations(sub)
}

// SchemaVersion is the migration version the database is at; 0 when it
// has never been migrated.
func (s *Store) SchemaVersion(ctx context.Context) (int32, error) {
	var v int32
	err := s.Pool.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" /* undefined_table */ {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}

// CheckSchema fails unless the database has every migration this binary
// knows: the worker and the API refuse to run on an older schema.
func (s *Store) CheckSchema(ctx context.Context) error {
	files, err := Migrations()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if int(v) < len(files) {
		return fmt.Errorf("the database schema is at version %d but this dsr needs %d: run dsr migrate", v, len(files))
	}
	return nil
}
