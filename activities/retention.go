package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// Retention is the daily retention run's activity: it deletes every
// discharged or declined episode that closed more than RetainFor ago, from
// PostgreSQL and from Temporal.
type Retention struct {
	Store     *store.Store
	Temporal  client.Client
	Namespace string
	RetainFor time.Duration
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run deletes what has expired and audits the run with counts only.
// For each episode, Temporal is cleaned first (a workflow still running is
// terminated; the closed run's history, encrypted, is deleted), then the
// record: a failure leaves the record for the next run to find again.
func (r *Retention) Run(ctx context.Context) (workflows.RetentionReport, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var rep workflows.RetentionReport
	if r.RetainFor <= 0 {
		return rep, nil // off
	}
	rep.Cutoff = now().UTC().Add(-r.RetainFor)
	ids, err := r.Store.ExpiredClosed(ctx, rep.Cutoff)
	if err != nil {
		return rep, err
	}
	rep.Found = len(ids)
	for _, id := range ids {
		if err := r.cleanTemporal(ctx, id); err != nil {
			return rep, err
		}
		ok, err := r.Store.DeleteExpired(ctx, id, rep.Cutoff)
		if err != nil {
			return rep, err
		}
		if ok {
			rep.Deleted++
		}
	}
	if err := r.Store.AuditRetention(ctx, rep.Cutoff, rep.Found, rep.Deleted); err != nil {
		return rep, err
	}
	r.Logger.Info("retention run", "cutoff", rep.Cutoff, "found", rep.Found, "deleted", rep.Deleted)
	return rep, nil
}

// cleanTemporal ends and deletes the person's workflow, whatever is left
// of it; a workflow Temporal no longer knows is fine.
func (r *Retention) cleanTemporal(ctx context.Context, id string) error {
	wid := workflows.WorkflowID(id)
	var nf *serviceerror.NotFound
	err := r.Temporal.TerminateWorkflow(ctx, wid, "", "retention: record deleted")
	if err != nil && !errors.As(err, &nf) && !isAlreadyClosed(err) {
		return fmt.Errorf("retention: terminate %s: %w", wid, err)
	}
	// Every run of the chain (continue-as-new makes several). Temporal
	// deletes asynchronously, and durably once it has accepted the request.
	runs := map[string]bool{}
	if d, err := r.Temporal.DescribeWorkflowExecution(ctx, wid, ""); err == nil {
		runs[d.GetWorkflowExecutionInfo().GetExecution().GetRunId()] = true
	} else if !errors.As(err, &nf) {
		return fmt.Errorf("retention: describe %s: %w", wid, err)
	}
	var token []byte
	for {
		page, err := r.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: r.Namespace, Query: fmt.Sprintf("WorkflowId = '%s'", wid), NextPageToken: token})
		if err != nil {
			return fmt.Errorf("retention: list runs of %s: %w", wid, err)
		}
		for _, e := range page.GetExecutions() {
			runs[e.GetExecution().GetRunId()] = true
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	for runID := range runs {
		_, err := r.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: r.Namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wid, RunId: runID}})
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("retention: delete %s from Temporal: %w", wid, err)
		}
	}
	return nil
}

// isAlreadyClosed reports whether a terminate failed because the workflow
// had already completed.
func isAlreadyClosed(err error) bool {
	var fp *serviceerror.FailedPrecondition
	return errors.As(err, &fp)
}
