package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// BenchmarkLiveHeapPerWorkflow measures what a sleeping workflow costs in
// live heap (server and worker in one process, as in dsr dev), with the
// history service's cache at the server's default and capped below the
// workflow count: the difference is what the cap saves per workflow over
// it. It prints KiB/workflow; run with -benchtime=1x.
func BenchmarkLiveHeapPerWorkflow(b *testing.B) {
	const n = 3000
	for _, c := range []struct {
		name string
		size int
	}{{"server-default", 128_000}, {"capped-500", 500}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.ReportMetric(liveHeapPerWorkflow(b, n, c.size)/1024, "KiB/workflow")
			}
		})
	}
}

func liveHeapPerWorkflow(b *testing.B, n, cacheSize int) float64 {
	srv, err := StartTemporal(TemporalOptions{DynamicConfig: map[string]any{"history.hostLevelCacheMaxSize": cacheSize}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var ran atomic.Int64
	sleeper := func(ctx workflow.Context) error {
		if !workflow.IsReplaying(ctx) {
			ran.Add(1)
		}
		return workflow.Sleep(ctx, 24*time.Hour)
	}
	w := worker.New(c, "heap", worker.Options{})
	w.RegisterWorkflowWithOptions(sleeper, workflow.RegisterOptions{Name: "sleeper"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	ctx := context.Background()
	start := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("w%d", i), TaskQueue: "heap"}, "sleeper"); err != nil {
				b.Fatal(err)
			}
		}
		for deadline := time.Now().Add(5 * time.Minute); ran.Load() < int64(to); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d workflows ran their first task", ran.Load(), to)
			}
		}
		time.Sleep(2 * time.Second) // the last tasks' completions reach the server
	}
	// A first batch warms up every pool and cache of fixed size.
	start(0, 200)
	before := liveHeap()
	start(200, 200+n)
	return float64(int64(liveHeap())-int64(before)) / float64(n)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
