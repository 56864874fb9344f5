// Package store is the system of record: pgx queries over PostgreSQL, the
// embedded migrations, the audit log and the outbox of notices.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/bsw-dsr/dsr/register"
)

// Store holds the connection pool. Methods live in one file per table group.
type Store struct {
	Pool *pgxpool.Pool
}

// Open connects to PostgreSQL and checks the connection.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &Store{Pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

// Unreachable gives a database that cannot be reached its domain kind,
// KindUnavailable (503 with a retry hint, never 500), for the API and the
// web pages alike. ok is false for any other error.
func Unreachable(err error) (e *register.Error, ok bool) {
	if err == nil || register.KindOf(err) != register.KindInternal || !IsUnavailable(err) {
		return nil, false
	}
	return register.Unavailable("The register's database cannot be reached just now. Please try again shortly."), true
}

// IsUnavailable reports whether err means the database could not be
// reached or is not taking work just now (down, restarting, shutting down,
// too many connections), as opposed to a fault in the request or the code:
// the caller should hear 503 and try again, never 500.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, context.DeadlineExceeded), errors.Is(err, puddle.ErrClosedPool):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P: operator intervention
		// (admin shutdown, crash shutdown, cannot connect now); 53300: too
		// many connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "53300"
	}
	return pgconn.SafeToRetry(err)
}
