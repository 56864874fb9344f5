//go:build !lean

package cli

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/bsw-dsr/dsr/devstack"
)

// pgSupervisor keeps dsr dev's private PostgreSQL running: when the server
// dies (a crash, an OOM kill, someone's kill -9), it is started again on
// the same port and data directory, after a pause that grows while it
// keeps dying. Meanwhile the API answers 503 and the workflows' activities
// retry, so the register carries on where it was once the database is
// back, as it would after a production database fails over.
type pgSupervisor struct {
	dir    string
	port   int
	logger *slog.Logger

	mu      sync.Mutex
	cur     *devstack.Postgres
	stopped bool
}

// Backoff between restarts: from minRestartWait, doubling to
// maxRestartWait; a server that stayed up for stableAfter starts afresh.
const (
	minRestartWait = 500 * time.Millisecond
	maxRestartWait = 8 * time.Second
	stableAfter    = time.Minute
)

func supervisePostgres(pg *devstack.Postgres, logger *slog.Logger) *pgSupervisor {
	s := &pgSupervisor{dir: pg.Dir(), port: pg.Port(), logger: logger, cur: pg}
	go s.watch(pg)
	return s
}

func (s *pgSupervisor) watch(pg *devstack.Postgres) {
	wait := minRestartWait
	for {
		started := time.Now()
		<-pg.Done()
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return
		}
		if time.Since(started) > stableAfter {
			wait = minRestartWait
		}
		s.logger.Warn("PostgreSQL exited unexpectedly; restarting it", "error", pg.ExitErr(), "in", wait,
			"log", filepath.Join(s.dir, "postmaster.log"))
		for {
			time.Sleep(wait)
			wait = min(2*wait, maxRestartWait)
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			next, err := devstack.StartPostgresWith(ctx, devstack.PostgresOptions{Dir: s.dir, Port: s.port})
			cancel()
			if err != nil {
				s.logger.Warn("restarting PostgreSQL failed; trying again", "error", err, "in", wait)
				continue
			}
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				next.Stop()
				return
			}
			s.cur, pg = next, next
			s.mu.Unlock()
			s.logger.Info("PostgreSQL restarted", "port", s.port)
			break
		}
	}
}

// Stop stops the server for good.
func (s *pgSupervisor) Stop() error {
	s.mu.Lock()
	s.stopped = true
	cur := s.cur
	s.mu.Unlock()
	return cur.Stop()
}

// devPostgresURL is the dev cluster's database on port.
func devPostgresURL(port int) (string, error) { return devstack.PostgresURL(port, "dsr"), nil }

// startDevPostgres starts the dev cluster in pgDir for one command.
func startDevPostgres(ctx context.Context, pgDir string) (url string, stop func(), err error) {
	pg, err := devstack.StartPostgres(ctx, pgDir)
	if err != nil {
		return "", nil, err
	}
	return pg.URL(), func() { pg.Stop() }, nil
}
