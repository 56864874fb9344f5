package workflows

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/bsw-dsr/dsr/register"
)

// UpdateTimeout bounds how long a caller waits for a person's workflow to
// write or refuse a change; past it the caller hears 503.
const UpdateTimeout = 15 * time.Second

// Update sends a change to a person's workflow and waits until it is
// written or refused, decoding the result into out (when not nil). updateID
// may be empty; the same id sent twice is the same change, applied once.
// Failures come back as *register.Error where they have a kind.
func Update(ctx context.Context, c client.Client, personID, name, updateID string, req, out any) error {
	ctx, cancel := context.WithTimeout(ctx, UpdateTimeout)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   WorkflowID(personID),
		UpdateName:   name,
		UpdateID:     updateID,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, out)
	}
	if err != nil {
		return updateError(ctx, err)
	}
	return nil
}

// updateError maps an update failure to a domain error whose message is
// safe to show.
func updateError(ctx context.Context, err error) error {
	var nf *serviceerror.NotFound
	var waitEnded *client.WorkflowUpdateServiceTimeoutOrCanceledError
	switch {
	case errors.As(err, &nf):
		return &register.Error{Kind: register.KindConflict, Message: "The person is no longer on the register."}
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &waitEnded):
		// The update may still be delivered when the worker is back; the
		// same update id makes a retry safe. The server may end the wait a
		// moment before the caller's deadline passes: the same case.
		return register.Unavailable("The register did not confirm the change in time. Check the record before trying again.")
	}
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) {
		return register.Unavailable("The register cannot be reached just now, so nothing was changed. Please try again.")
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return register.Unavailable("The database did not answer in time, so nothing was changed. Please try again.")
	}
	return DomainError(err)
}
