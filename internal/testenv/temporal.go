package testenv

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/tclient"
)

// PayloadKey is the payload codec key of this test binary: give it to
// anything else that must read what Temporal clients from Temporal wrote.
var PayloadKey = sync.OnceValue(codec.GenerateKey)

// TemporalServer starts an embedded, in-memory Temporal server (the same
// code as dsr dev, without the SQLite file) for this test alone.
func TemporalServer(t testing.TB) *devstack.Temporal {
	t.Helper()
	// The server logs errors (with stack traces) while it shuts down; keep
	// test output readable unless asked: DSR_TEST_TEMPORAL_LOG=/path/file.
	logFile := os.Getenv("DSR_TEST_TEMPORAL_LOG")
	if logFile == "" {
		logFile = os.DevNull
	}
	srv, err := devstack.StartTemporal(devstack.TemporalOptions{LogFile: logFile})
	if err != nil {
		t.Fatalf("testenv: start Temporal: %v", err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// Temporal starts a server for this test and returns a client dialed the
// way the DSR dials (tclient: payload codec on, key PayloadKey()). Workers
// built on it inherit the codec.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	return TemporalClient(t, TemporalServer(t))
}

// TemporalClient dials srv the way the DSR does and closes the client when
// the test ends.
func TemporalClient(t testing.TB, srv *devstack.Temporal) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := tclient.Dial(ctx, tclient.Options{HostPort: srv.Address(), PayloadKey: PayloadKey(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("testenv: dial Temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// SMTP starts an SMTP capture server for this test (messages kept in
// memory) and closes it when the test ends.
func SMTP(t testing.TB) *devstack.SMTPCapture {
	t.Helper()
	c, err := devstack.StartSMTP("")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
