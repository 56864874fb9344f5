package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/tclient"
	"github.com/bsw-dsr/dsr/worker"
	"github.com/bsw-dsr/dsr/workflows"
)

// BenchmarkImport10k imports a 10,000-row register end to end, as dsr dev
// runs it: real PostgreSQL, the embedded Temporal server persisting to a
// SQLite file (DSR_BENCH_TEMPORAL=memory for in memory), the worker running
// beside the import and loading every new workflow. Each iteration gets a
// fresh database and Temporal server; run it with -benchtime=1x:
//
//	go test -run '^$' -bench Import10k -benchtime=1x ./e2e/
//
// It reports rows/s and logs the spread of first review dates and how long
// the worker took to load every new workflow. DSR_BENCH_ROWS changes the
// number of rows, DSR_BENCH_WORKERS the import's concurrency;
// DSR_BENCH_NOWORKER=1 runs no worker, DSR_BENCH_NOSETTLE=1 does not wait
// for the worker.
func BenchmarkImport10k(b *testing.B) {
	rows := 10000
	if n, err := strconv.Atoi(os.Getenv("DSR_BENCH_ROWS")); err == nil {
		rows = n
	}
	now := time.Now()
	file := registerOf(rows, now)
	workers, _ := strconv.Atoi(os.Getenv("DSR_BENCH_WORKERS")) // 0: the default
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		deps, settle := benchStack(b)
		_ = settle
		b.StartTimer()
		started := time.Now()
		sum, err := starter.Import(context.Background(), deps, bytes.NewReader(file), starter.ImportOptions{Workers: workers})
		elapsed := time.Since(started)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if sum.Imported != rows || len(sum.Refused) != 0 || sum.Deferred != 0 {
			b.Fatalf("imported %d, refused %d, deferred %d", sum.Imported, len(sum.Refused), sum.Deferred)
		}
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(elapsed.Seconds(), "s/import")
		b.Logf("imported %d rows in %s (%d started, %d first reviews spread)", rows, elapsed.Round(time.Millisecond), sum.Started, sum.Spread)
		fmt.Fprintf(os.Stderr, "imported %d rows in %s\n", rows, elapsed.Round(time.Millisecond))
		if os.Getenv("DSR_BENCH_NOSETTLE") != "" {
			settle = time.Now
		}
		settled := settle()
		b.Logf("every workflow loaded its record %s after the import began", settled.Sub(started).Round(time.Millisecond))
		logSpread(b, deps, now)
		b.StartTimer()
	}
}

// registerOf writes a register CSV of n people, as an area's spreadsheet
// might be after some months: 93% active with last reviews anywhere in the
// last 120 days (so most red and many amber reviews have lapsed), 5%
// discharged, 2% waiting for triage.
func registerOf(n int, now time.Time) []byte {
	f := newCSVFile(nil, true, true, register.CSVColumns)
	ratings := []register.Rating{register.Red, register.Amber, register.Amber, register.Green, register.Green, register.Blue}
	for i, nhs := range nhsNumbers(5_000_000, n) {
		row := goodRow(nhs, fmt.Sprintf("Given%05d", i), ratings[i%len(ratings)], londonDate(now, -(i*7919)%120))
		switch {
		case i%50 == 7:
			row["status"] = "referred"
		case i%20 == 3:
			row["status"] = "discharged"
		}
		f.row(row)
	}
	return f.bytes()
}

// benchStack starts PostgreSQL, Temporal and the worker; settle waits until
// every open person's workflow has loaded its record and answers a query.
func benchStack(b *testing.B) (starter.Deps, func() time.Time) {
	b.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := testenv.DB(b)
	opts := devstack.TemporalOptions{LogFile: os.DevNull}
	if os.Getenv("DSR_BENCH_TEMPORAL") != "memory" {
		opts.DatabaseFile = filepath.Join(b.TempDir(), "temporal.db")
	}
	srv, err := devstack.StartTemporal(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop() })
	c, err := tclient.Dial(ctx, tclient.Options{HostPort: srv.Address(), PayloadKey: testenv.PayloadKey(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.PayloadKey = testenv.PayloadKey()
	smtp := testenv.SMTP(b)
	cfg.SMTP = config.SMTP{Host: smtp.Host(), Port: smtp.Port(), TLS: "none"}
	mailer, err := mail.NewSMTP(cfg.SMTP, cfg.MailFrom, logger)
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("DSR_BENCH_NOWORKER") != "" {
		return starter.Deps{Store: st, Temporal: c, Timing: cfg.Timing, Logger: logger}, time.Now
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker.Run(wctx, worker.Deps{Client: c, Store: st, Mailer: mailer, Config: cfg, Logger: logger})
	}()
	b.Cleanup(func() { stop(); <-done })

	deps := starter.Deps{Store: st, Temporal: c, Timing: cfg.Timing, Logger: logger}
	settle := func() time.Time {
		ids, err := st.OpenPeople(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// A query is answered after the workflow's first task, in which it
		// loads its record; ask every one, a few at a time.
		var wg sync.WaitGroup
		next := make(chan string)
		for range 16 {
			wg.Go(func() {
				for id := range next {
					for {
						v, err := c.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QuerySchedule)
						var s workflows.Schedule
						if err == nil && v.Get(&s) == nil && s.Status != "" {
							break
						}
						time.Sleep(100 * time.Millisecond)
					}
				}
			})
		}
		for _, id := range ids {
			next <- id
		}
		close(next)
		wg.Wait()
		return time.Now()
	}
	return deps, settle
}

// logSpread logs the first review dates: earliest, latest, how many fall
// on each day, and the busiest day.
func logSpread(b *testing.B, d starter.Deps, now time.Time) {
	rows, err := d.Store.Pool.Query(context.Background(),
		`SELECT to_char(next_review_due AT TIME ZONE 'Europe/London', 'YYYY-MM-DD') AS day, count(*)
		 FROM people WHERE status = 'active' GROUP BY day ORDER BY day`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	type day struct {
		day string
		n   int
	}
	var days []day
	total := 0
	for rows.Next() {
		var d day
		if err := rows.Scan(&d.day, &d.n); err != nil {
			b.Fatal(err)
		}
		days = append(days, d)
		total += d.n
	}
	if len(days) == 0 {
		b.Fatal("no active people")
	}
	today := now.In(register.London).Format(time.DateOnly)
	lead := now.Add(d.Timing.ReminderLead).In(register.London).Format(time.DateOnly)
	var withinLead int
	for _, d := range days {
		if d.day <= lead {
			withinLead += d.n
		}
	}
	busiest := days[0]
	var hist []string
	for _, d := range days {
		if d.n > busiest.n {
			busiest = d
		}
		hist = append(hist, fmt.Sprintf("%s:%d", d.day[5:], d.n))
	}
	counts := make([]int, len(days))
	for i, d := range days {
		counts[i] = d.n
	}
	sort.Ints(counts)
	b.Logf("first reviews of %d active people: import day %s; earliest %s, latest %s over %d days; due by %s (the reminder lead): %d; busiest day %s with %d; median day %d",
		total, today, days[0].day, days[len(days)-1].day, len(days), lead, withinLead, busiest.day, busiest.n, counts[len(counts)/2])
	b.Logf("per day (MM-DD:count): %s", strings.Join(hist, " "))
}
