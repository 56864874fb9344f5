package bench

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestPhasesOf(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	ev := func(id int64, typ enumspb.EventType, at time.Duration) *historypb.HistoryEvent {
		return &historypb.HistoryEvent{EventId: id, EventType: typ, EventTime: timestamppb.New(t0.Add(at))}
	}
	completed := func(id, accepted int64, at time.Duration) *historypb.HistoryEvent {
		e := ev(id, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, at)
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionUpdateCompletedEventAttributes{
			WorkflowExecutionUpdateCompletedEventAttributes: &historypb.WorkflowExecutionUpdateCompletedEventAttributes{AcceptedEventId: accepted}}
		return e
	}
	events := []*historypb.HistoryEvent{
		ev(1, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 0),
		ev(2, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 0),
		ev(3, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, 10*time.Millisecond),
		ev(4, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Millisecond),
		// An update waits 3 s for its task, then 200 ms for its write.
		ev(5, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, time.Minute),
		ev(6, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, time.Minute+3*time.Second),
		ev(7, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, time.Minute+3*time.Second),
		ev(8, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, time.Minute+3*time.Second),
		ev(9, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, time.Minute+3*time.Second),
		// A second update accepted in a later task, completed first.
		ev(10, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 2*time.Minute),
		ev(11, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, 2*time.Minute+time.Second),
		ev(12, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 2*time.Minute+time.Second),
		ev(13, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 2*time.Minute+time.Second),
		completed(14, 13, 2*time.Minute+1500*time.Millisecond),
		completed(15, 8, 2*time.Minute+2*time.Second),
		// Accepted, never completed: queued only.
		ev(16, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 3*time.Minute),
		ev(17, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 3*time.Minute+100*time.Millisecond),
	}
	queued, written := phasesOf(events)
	wantQ := Latencies{3 * time.Second, time.Second, 100 * time.Millisecond}
	wantW := Latencies{500 * time.Millisecond, time.Minute - time.Second}
	if len(queued) != len(wantQ) || len(written) != len(wantW) {
		t.Fatalf("queued %v, written %v; want %v and %v", queued, written, wantQ, wantW)
	}
	for i := range wantQ {
		if queued[i] != wantQ[i] {
			t.Errorf("queued[%d] = %v, want %v", i, queued[i], wantQ[i])
		}
	}
	for i := range wantW {
		if written[i] != wantW[i] {
			t.Errorf("written[%d] = %v, want %v", i, written[i], wantW[i])
		}
	}
	if q, w := phasesOf(nil); q != nil || w != nil {
		t.Errorf("an empty history gave %v, %v", q, w)
	}
}
