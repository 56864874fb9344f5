package starter

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// Deps is what the starter needs: the register, Temporal and the review
// timing the first reviews of imported people are planned with.
type Deps struct {
	Store    *store.Store
	Temporal client.Client
	Timing   register.Timing
	// Localities is the area's list (DSR_LOCALITIES); nil means the default.
	Localities register.Localities
	Logger     *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Actor is who the audit log names for what the starter writes; the
	// command fills it in from the operating system's user and host.
	Actor register.Actor
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// DefaultImportWorkers is how many rows are stored and started at once.
// Each row waits mostly on Temporal (a workflow start is a round trip and a
// write); on a 2-core machine with the embedded Temporal server, 16 at once
// imported 10,000 rows about twice as fast as 6 or 12, and 32 or 48 no
// faster (BenchmarkImport10k in e2e).
const DefaultImportWorkers = 16

// ImportOptions tune an import.
type ImportOptions struct {
	// Workers is how many rows are imported at once (DefaultImportWorkers
	// when 0).
	Workers int
	// Progress receives progress while the import runs: nil for none.
	Progress io.Writer
	// Terminal says Progress is a terminal: progress is one line refreshed
	// in place; otherwise a plain line every ProgressEvery.
	Terminal bool
	// ProgressEvery is how often a plain progress line is written (10 s
	// when 0).
	ProgressEvery time.Duration
	// Size is the file's size in bytes when known, for a percentage.
	Size int64
}

// RowOutcome is what happened to one row that was not imported.
type RowOutcome struct {
	Line int `json:"line"`
	// Problems are "column: problem" lines, never quoting the row's values.
	Problems []string `json:"problems,omitempty"`
	// ID is the register's existing record, for a row already there.
	ID string `json:"id,omitempty"`
	// Message says why the row was left alone ("already imported (active)").
	Message string `json:"message,omitempty"`
}

// Summary is what an import did.
type Summary struct {
	Rows     int          `json:"rows"`     // data rows read (blank rows are skipped)
	Imported int          `json:"imported"` // people stored
	Started  int          `json:"started"`  // workflows started for them
	Deferred int          `json:"deferred"` // stored, workflow left to the reconciler
	Spread   int          `json:"spread"`   // first reviews moved off the import days (FirstReview)
	Already  []RowOutcome `json:"already"`  // rows whose NHS number the register holds already
	Refused  []RowOutcome `json:"refused"`  // rows with problems, by line
	Elapsed  time.Duration
}

// FirstReview plans an imported active person's first review: the rating's
// interval after the last review date (Timing.ReviewDueFrom, so a panel
// schedule applies).
//
// The spreading rule: a review that would fall due at once — overdue on
// import day, or due within the reminder lead so its reminder would go out
// at once, or with no last review date to plan from — is instead placed in
// the interval that starts when the reminder lead has passed, at a point
// chosen by a hash of the NHS number. So a register whose reviews have all
// lapsed does not send every reminder on import day: they are spread
// evenly over the following interval (one red interval, 7 days by default,
// for red people; 28 for amber…), and a re-run on the same day plans the
// same dates. With intervals of two days or more the points are whole days
// (midnight, London time), the first being the day after the reminder lead
// has passed; shorter intervals (tests) are cut into 1,000 steps. A review
// due later than the reminder lead keeps its date. spread reports whether
// the date was moved.
func FirstReview(t register.Timing, nhs string, rating register.Rating, last *time.Time, now time.Time) (due time.Time, spread bool) {
	interval := t.Interval(rating)
	// With a reminder window, reminders can go up to a day before due −
	// lead: the earliest date whose reminders all fall after now.
	earliest := t.FirstQuietDue(now)
	if last != nil {
		due = t.ReviewDueFrom(*last, rating)
		if !due.Before(earliest) || interval <= 0 {
			return due.UTC(), false
		}
	}
	if interval <= 0 {
		return earliest.UTC(), false // not reached: configuration refuses it
	}
	h := spreadHash(nhs)
	if days := int(interval / (24 * time.Hour)); days >= 2 {
		y, m, d := earliest.In(register.London).Date()
		start := time.Date(y, m, d+1, 0, 0, 0, 0, register.London)
		due = start.AddDate(0, 0, int(h%uint64(days)))
	} else {
		const steps = 1000
		due = earliest.Add(time.Duration(h%steps) * (interval / steps))
	}
	// Move to a panel slot as any review date is.
	return t.AlignToPanel(due).UTC(), true
}

func spreadHash(nhs string) uint64 {
	sum := sha256.Sum256([]byte("dsr first review spread\x00" + nhs))
	return binary.BigEndian.Uint64(sum[:8])
}

// startTimeout bounds one workflow start; a person whose start fails is
// stored all the same and the worker's reconciler starts their workflow.
const startTimeout = 15 * time.Second

// giveUpStartsAfter is how many failed starts stop the import trying:
// Temporal is down, and waiting out each start would take hours.
const giveUpStartsAfter = 3

// Import reads a CSV register (register.NewCSVReader: the columns are
// documented there and in the README) and puts each good row on the
// register: stored as the row says (store.CreateImported), first review
// planned (FirstReview), workflow started. Rows with problems are reported
// by line with every problem, and nothing of them is stored; rows whose NHS
// number the register holds already are reported and left alone, so a
// re-run imports nothing twice. Rows are imported opts.Workers at a time.
//
// An error that is not a row's fault (the file cannot be read further, the
// database fails) stops the import; what was imported stays, and running
// the import again carries on where it stopped. The summary so far is
// returned with the error.
func Import(ctx context.Context, d Deps, r io.Reader, opts ImportOptions) (Summary, error) {
	started := time.Now()
	now := d.now().UTC().Truncate(time.Microsecond)
	cr := &countingReader{r: r}
	rows, err := register.NewCSVReader(cr, now, d.Localities)
	if err != nil {
		return Summary{}, err
	}
	im := &importer{d: d, now: now, runID: uuid.NewString()[:8], actor: d.Actor}
	if im.actor.Role == "" {
		im.actor.Role = StarterRole
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultImportWorkers
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var prog *progress
	if opts.Progress != nil {
		prog = newProgress(opts, cr, im, started)
		prog.start()
	}

	queue := make(chan register.CSVRow, workers*2)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for row := range queue {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := im.one(ctx, row); err != nil {
					cancel(err)
				}
			}
		})
	}

	var readErr error
	for ctx.Err() == nil {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		im.rows.Add(1)
		if !row.OK() {
			im.refuse(RowOutcome{Line: row.Line, Problems: row.ProblemList()})
			continue
		}
		select {
		case queue <- row:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	if prog != nil {
		prog.stop()
	}

	sum := im.summary(time.Since(started))
	if readErr != nil {
		return sum, readErr
	}
	if cause := context.Cause(ctx); cause != nil {
		return sum, cause
	}
	return sum, nil
}

type importer struct {
	d     Deps
	now   time.Time
	runID string
	actor register.Actor

	rows, imported, started, deferred, spread, failedStarts atomic.Int64

	mu      sync.Mutex
	already []RowOutcome
	refused []RowOutcome
}

func (im *importer) refuse(o RowOutcome) {
	im.mu.Lock()
	im.refused = append(im.refused, o)
	im.mu.Unlock()
}

func (im *importer) counts() (rows, imported, already, refused int) {
	im.mu.Lock()
	defer im.mu.Unlock()
	return int(im.rows.Load()), int(im.imported.Load()), len(im.already), len(im.refused)
}

func (im *importer) summary(elapsed time.Duration) Summary {
	im.mu.Lock()
	defer im.mu.Unlock()
	byLine := func(a, b RowOutcome) int { return a.Line - b.Line }
	s := Summary{
		Rows: int(im.rows.Load()), Imported: int(im.imported.Load()), Started: int(im.started.Load()),
		Deferred: int(im.deferred.Load()), Spread: int(im.spread.Load()),
		Already: slices.Clone(im.already), Refused: slices.Clone(im.refused), Elapsed: elapsed,
	}
	slices.SortFunc(s.Already, byLine)
	slices.SortFunc(s.Refused, byLine)
	return s
}

// one imports one good row; an error is not the row's fault and stops the
// import.
func (im *importer) one(ctx context.Context, row register.CSVRow) error {
	p := row.ToPerson()
	p.ID = uuid.NewString()
	p.ImportedAt = &im.now
	if p.ReferredAt.IsZero() || p.ReferredAt.After(im.now) {
		p.ReferredAt = im.now // no date, or today's before now
	}
	spread := false
	switch p.Status {
	case register.Active:
		p.AcceptedAt = &im.now
		var due time.Time
		due, spread = FirstReview(im.d.Timing, p.NHSNumber, p.Rating, p.LastReviewAt, im.now)
		due = due.Truncate(time.Microsecond)
		p.NextReviewDue = &due
	case register.Referred:
		p.Rating = ""
	case register.Discharged, register.Declined:
		p.ClosedAt = &im.now
		p.CloseReason = "imported as " + string(p.Status) + " from the register spreadsheet"
	}
	key := "csv " + im.runID + " line " + strconv.Itoa(row.Line)
	err := im.d.Store.CreateImported(ctx, p, key, im.actor)
	if err != nil {
		var e *register.Error
		if errors.As(err, &e) && e.Kind == register.KindConflict {
			im.mu.Lock()
			im.already = append(im.already, RowOutcome{Line: row.Line, ID: e.ID, Message: e.Message})
			im.mu.Unlock()
			return nil
		}
		return fmt.Errorf("line %d: %w", row.Line, err)
	}
	im.imported.Add(1)
	if spread {
		im.spread.Add(1)
	}
	if !p.Status.Open() {
		return nil
	}
	if im.failedStarts.Load() >= giveUpStartsAfter {
		im.deferred.Add(1)
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := im.start(sctx, p.ID); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if im.failedStarts.Add(1) == giveUpStartsAfter {
			im.d.logger().Warn("workflow starts keep failing; the rest are left to the worker's reconciler", "error", err)
		}
		im.deferred.Add(1)
		im.d.logger().Warn("person imported; workflow start deferred to the reconciler", "person", p.ID, "error", err)
		return nil
	}
	im.started.Add(1)
	return nil
}

// start starts the person's workflow with its state and clock facts read
// from the record just written (as the workflow itself would). A person imported as referred
// comes out of LoadState already announced: the referral is not new (it
// waits in the spreadsheet), so coordinators get no referral-received
// notice per imported row, whichever start (this one or the reconciler's)
// reaches Temporal first; the triage deadline runs from the import, though
// the row's referral date (which may be weeks back) is kept and shown.
func (im *importer) start(ctx context.Context, personID string) error {
	return startFromRecord(ctx, im.d.Temporal, im.d.Store, personID)
}

// countingReader counts the bytes read, for the progress percentage.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// WriteSummary writes what an import did for a person at a terminal: the
// counts, every refused row's line with each of its problems, and the
// lines of rows already on the register. It never prints a row's values.
func (s Summary) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d rows in %s: %d imported, %d already on the register, %d refused\n",
		s.Rows, s.Elapsed.Round(100*time.Millisecond), s.Imported, len(s.Already), len(s.Refused))
	if s.Imported > 0 {
		fmt.Fprintf(&b, "workflows started: %d", s.Started)
		if s.Deferred > 0 {
			fmt.Fprintf(&b, "; %d left to the worker's reconciler (Temporal did not answer)", s.Deferred)
		}
		b.WriteString("\n")
		if s.Spread > 0 {
			fmt.Fprintf(&b, "first reviews spread over the following interval: %d (overdue or due within the reminder lead on import day, or no last review date)\n", s.Spread)
		}
	}
	if len(s.Already) > 0 {
		imported := 0
		for _, a := range s.Already {
			if strings.HasPrefix(a.Message, "already imported") {
				imported++
			}
		}
		switch {
		case s.Imported == 0 && len(s.Refused) == 0:
			fmt.Fprintf(&b, "nothing to import: every row is already on the register (%d by an earlier import)\n", imported)
		default:
			fmt.Fprintf(&b, "already on the register, left alone (%d by an earlier import): lines %s\n", imported, lineRanges(s.Already))
		}
	}
	if len(s.Refused) > 0 {
		fmt.Fprintf(&b, "refused rows (fix them and run the import again; rows already imported are left alone):\n")
		for _, r := range s.Refused {
			fmt.Fprintf(&b, "  line %d:\n", r.Line)
			for _, p := range r.Problems {
				fmt.Fprintf(&b, "    %s\n", p)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// lineRanges renders sorted lines compactly: "2-40, 43, 45-46".
func lineRanges(rows []RowOutcome) string {
	var parts []string
	for i := 0; i < len(rows); {
		j := i
		for j+1 < len(rows) && rows[j+1].Line == rows[j].Line+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(rows[i].Line))
		} else {
			parts = append(parts, strconv.Itoa(rows[i].Line)+"-"+strconv.Itoa(rows[j].Line))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
