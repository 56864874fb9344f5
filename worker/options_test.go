package worker

import (
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestStickyTimeoutBelowUpdateTimeout: a change whose task went to the
// sticky queue of a worker that has just stopped waits out the sticky
// timeout before another worker replays it; the user waits at most
// workflows.UpdateTimeout, so the wait and the replay must fit inside it.
func TestStickyTimeoutBelowUpdateTimeout(t *testing.T) {
	const replay = 3 * time.Second // a loaded worker's replay and the change's write
	if DefaultStickyTimeout+replay > workflows.UpdateTimeout {
		t.Errorf("sticky timeout %s + %s > update timeout %s: a change after a worker restart answers 503",
			DefaultStickyTimeout, replay, workflows.UpdateTimeout)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		in   config.WorkerTuning
		// want: pollers, sticky timeout, task slots
		wfPollers, actPollers int
		sticky                time.Duration
		wfTasks, activities   int
	}{
		{"defaults", config.WorkerTuning{}, 0, 0, DefaultStickyTimeout, 0, 0},
		{"all set", config.WorkerTuning{WorkflowPollers: 6, ActivityPollers: 4, StickyTimeout: time.Minute, WorkflowTasks: 50, Activities: 70}, 6, 4, time.Minute, 50, 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options(tt.in)
			if o.MaxConcurrentWorkflowTaskPollers != tt.wfPollers || o.MaxConcurrentActivityTaskPollers != tt.actPollers ||
				o.StickyScheduleToStartTimeout != tt.sticky || o.MaxConcurrentWorkflowTaskExecutionSize != tt.wfTasks ||
				o.MaxConcurrentActivityExecutionSize != tt.activities {
				t.Errorf("Options(%+v) = %+v", tt.in, o)
			}
			if o.WorkerStopTimeout < 10*time.Second {
				t.Errorf("stop timeout %s leaves activities no time to record a sent notice", o.WorkerStopTimeout)
			}
		})
	}
}
