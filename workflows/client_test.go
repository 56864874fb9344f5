package workflows

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
)

func TestUpdateErrorKinds(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want register.Kind // KindInternal: answered 500
	}{
		{"workflow gone", live, serviceerror.NewNotFound("workflow not found"), register.KindConflict},
		{"caller's wait over", expired, errors.New("rpc error: context canceled"), register.KindUnavailable},
		{"deadline in the error", live, context.DeadlineExceeded, register.KindUnavailable},
		// The server gives up on the wait a moment before the caller's own
		// deadline passes (seen in dsr bench: 3 of 10,000 triages were
		// answered 500 at 15.0 s).
		{"server ended the wait first", live, client.NewWorkflowUpdateServiceTimeoutOrCanceledError(errors.New("stream terminated by RST_STREAM with error code: CANCEL")), register.KindUnavailable},
		{"Temporal unreachable", live, serviceerror.NewUnavailable("connection refused"), register.KindUnavailable},
		{"anything else", live, errors.New("boom"), register.KindInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := updateError(c.ctx, c.err)
			// An error that is not a register error is answered 500, as
			// KindInternal is.
			kind := register.KindInternal
			var e *register.Error
			if errors.As(got, &e) {
				kind = e.Kind
			}
			if kind != c.want {
				t.Errorf("updateError(%v) = %v, kind %v; want kind %v", c.err, got, kind, c.want)
			}
		})
	}
}
