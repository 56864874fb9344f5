package tclient

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/devstack"
)

// A made-up person: none of this may reach Temporal's storage in the clear.
const sentinel = "Zebedee Quixote-Smith NHS 943 476 5919 born 1999-02-03"

const taskQueue = "tclient-test"

func Shout(ctx workflow.Context, s string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	if err := workflow.ExecuteActivity(ctx, Exclaim, s).Get(ctx, &out); err != nil {
		return "", err
	}
	return out, nil
}

func Exclaim(_ context.Context, s string) (string, error) { return s + "!", nil }

// Fail fails with the input in its error message, as a careless error
// wrapping might.
func Fail(_ workflow.Context, s string) (string, error) {
	return "", temporal.NewNonRetryableApplicationError("could not process "+s, "test", nil)
}

func TestDialRequiresKey(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, Options{HostPort: "127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "DSR_PAYLOAD_KEY") {
		t.Errorf("no key: %v", err)
	}
	start := time.Now()
	if _, err := Dial(ctx, Options{HostPort: "127.0.0.1:1", PayloadKey: "k:short"}); err == nil {
		t.Error("bad key accepted")
	}
	if time.Since(start) > time.Second {
		t.Error("a bad key should fail at once, not be retried")
	}
}

func TestDialGivesUpWhenContextEnds(t *testing.T) {
	// A port with nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	logs := new(bytes.Buffer)
	_, err = Dial(ctx, Options{HostPort: addr, PayloadKey: codec.GenerateKey(), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if n := strings.Count(logs.String(), "retrying"); n < 2 {
		t.Errorf("expected several retries logged, got %d:\n%s", n, logs)
	}
}

func TestNoPlaintextInHistory(t *testing.T) {
	srv, err := devstack.StartTemporal(devstack.TemporalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	logs := new(bytes.Buffer)
	key := codec.GenerateKey()
	c, err := Dial(ctx, Options{HostPort: srv.Address(), PayloadKey: key, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(Shout)
	w.RegisterWorkflow(Fail)
	w.RegisterActivity(Exclaim)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// A client without the codec sees what Temporal stores.
	raw, err := client.Dial(client.Options{HostPort: srv.Address(), Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	run := func(c client.Client, id string, wf any) client.WorkflowRun {
		t.Helper()
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, wf, sentinel)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// With the codec: the codec client gets the plaintext back...
	var got string
	if err := run(c, "shout-encrypted", Shout).Get(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got != sentinel+"!" {
		t.Fatalf("result = %q", got)
	}
	// ...the raw client cannot read it...
	var rawGot string
	if err := raw.GetWorkflow(ctx, "shout-encrypted", "").Get(ctx, &rawGot); err == nil {
		t.Errorf("client without the codec decoded the result: %q", rawGot)
	}
	// ...and no event holds it.
	if n := eventsWith(ctx, t, raw, "shout-encrypted"); n != 0 {
		t.Errorf("%d history events hold the sentinel in the clear", n)
	}

	// A failure's message is encrypted too; the codec client still reads it.
	err = run(c, "fail-encrypted", Fail).Get(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), sentinel) {
		t.Errorf("codec client's failure = %v, want it to quote the input", err)
	}
	if n := eventsWith(ctx, t, raw, "fail-encrypted"); n != 0 {
		t.Errorf("%d failure history events hold the sentinel in the clear", n)
	}

	// Control: started without the codec, the input is stored in the clear
	// and the scan finds it, so the checks above can fail.
	if err := run(raw, "shout-plain", Shout).Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := eventsWith(ctx, t, raw, "shout-plain"); n == 0 {
		t.Error("control: the scan did not find the sentinel in a history started without the codec")
	}

	if strings.Contains(logs.String(), sentinel) {
		t.Error("the log holds the sentinel")
	}
}

// eventsWith counts the events of a workflow's history whose raw protobuf
// bytes contain the sentinel.
func eventsWith(ctx context.Context, t *testing.T, c client.Client, id string) int {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n, total := 0, 0
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		total++
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(sentinel)) {
			n++
			t.Logf("%s: event %d (%s) holds the sentinel", id, e.EventId, e.EventType)
		}
	}
	if total < 3 {
		t.Fatalf("%s: only %d events", id, total)
	}
	return n
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
