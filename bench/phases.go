package bench

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// UpdatePhases splits updates' time on the server in two, from their
// workflows' histories: Queued, from the workflow task that carried the
// update being scheduled to the update's acceptance (the wait for a worker
// to be handed that task, and the task itself); Written, from acceptance
// to completion (the handler's activity and the workflow task after it).
// It tells which part of an update's time a change to the handler could
// shorten.
type UpdatePhases struct {
	Queued  Latencies `json:"queued"`
	Written Latencies `json:"written"`
}

// phaseSample is how many workflows' histories are read for UpdatePhases:
// enough for a p99, few enough that reading them is not itself a load.
const phaseSample = 500

// updatePhases reads the histories of up to phaseSample of the workflows,
// spread evenly over ids (the order the updates were sent in), and times
// every update that completed in them.
func updatePhases(ctx context.Context, c client.Client, ids []string) (UpdatePhases, error) {
	var ph UpdatePhases
	step := max(1, len(ids)/phaseSample)
	for i := 0; i < len(ids); i += step {
		var events []*historypb.HistoryEvent
		it := c.GetWorkflowHistory(ctx, ids[i], "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return ph, fmt.Errorf("history of %s: %w", ids[i], err)
			}
			events = append(events, ev)
		}
		q, w := phasesOf(events)
		ph.Queued = append(ph.Queued, q...)
		ph.Written = append(ph.Written, w...)
	}
	return ph, nil
}

// phasesOf times each completed update in one history (see UpdatePhases).
func phasesOf(events []*historypb.HistoryEvent) (queued, written Latencies) {
	scheduled := -1 // the latest workflow task scheduled
	accepted := map[int64]int{}
	for i, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			scheduled = i
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			accepted[ev.GetEventId()] = i
			if scheduled >= 0 {
				queued = append(queued, ev.GetEventTime().AsTime().Sub(events[scheduled].GetEventTime().AsTime()))
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			if a, ok := accepted[ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetAcceptedEventId()]; ok {
				written = append(written, ev.GetEventTime().AsTime().Sub(events[a].GetEventTime().AsTime()))
			}
		}
	}
	return queued, written
}
