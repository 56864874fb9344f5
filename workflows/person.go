// Package workflows holds PersonWorkflow: one long-lived workflow per person
// on the register, the single writer of that person's record.
package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// Names shared by the worker, the API and the starter.
const (
	PersonWorkflowName = "PersonWorkflow"

	UpdateTriage        = "triage"
	UpdateRecordReview  = "record-review"
	UpdateChangeRating  = "change-rating"
	UpdateAddActions    = "add-actions"
	UpdateCloseAction   = "close-action"
	UpdateProfessionals = "replace-professionals"
	UpdateDischarge     = "discharge"

	QuerySchedule = "schedule"

	// Activity names, registered by the worker.
	ActivityLoadState = "LoadState"
	ActivityPersist   = "Persist"
	ActivityNotify    = "Notify"
	ActivitySkip      = "SkipNotices"
	ActivitySettle    = "SettleUpdate"
)

// Versions of the workflow's logic. People's workflows run for years, so a
// change to what a running workflow does is gated (workflow.GetVersion) and
// the old logic kept for the histories recorded under it.
const (
	versionChangeID = "notice-guarantee"
	// versionNoticeGuarantee: catch-up per audience; a change is applied to
	// the current state (ladder progress never rolled back); an uncertain
	// write is settled by asking PostgreSQL.
	versionNoticeGuarantee workflow.Version = 1

	dedupChangeID = "update-dedup-across-runs"
	// versionDedup: the ids of recent changes are carried across
	// continue-as-new, and a change whose id is among them is answered
	// with the current result instead of being applied again.
	versionDedup workflow.Version = 1
)

// CurrentGeneration is stamped on every run this code starts (a new
// workflow, a continue-as-new). A run of generation 1 or later takes the
// newest path of every change id in this package without asking
// workflow.GetVersion: each first GetVersion of a run writes a marker and
// upserts the TemporalChangeVersion search attribute, a visibility write
// that cost nine times a start's, for every new run, for nothing, as a
// run this code started can only ever run this code or newer. A change id
// added later is asked with workflow.GetVersion (or through versionOf
// with this raised): runs of an older generation need it.
const CurrentGeneration = 1

// versionOf is workflow.GetVersion for the change ids of generation 1.
func versionOf(ctx workflow.Context, gen int, changeID string, max workflow.Version) workflow.Version {
	if gen >= 1 {
		return max
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, max)
}

// DefaultPersistWithin bounds how long a change may take to be written
// before the workflow stops waiting and asks PostgreSQL whether it was.
// Shorter than the API's wait, so the caller hears the answer.
const DefaultPersistWithin = 10 * time.Second

// MaxHistory is the event count past which a run continues as new, well
// before the server would suggest it: a busy person (a year with fifty
// escalating actions is about 2,000 events) keeps short histories that replay
// fast.
const MaxHistory = 2000

// WorkflowID is the person's workflow id: the opaque person id, nothing
// personal.
func WorkflowID(personID string) string { return "person-" + personID }

// Input starts or continues a person's workflow.
type Input struct {
	PersonID string `json:"person_id"`
	// State is carried across continue-as-new; nil means load it from the
	// record (a new referral, or the reconciler rebuilding a workflow).
	State *register.State `json:"state,omitempty"`
	// Clocks, with State, are the record's clock facts read by the starter
	// (store.ClockFacts): the first task then needs no LoadClocks activity.
	// nil means load them when the clocks start from the record.
	Clocks *register.ClockFacts `json:"clocks,omitempty"`
	// ContinueAfter continues as new after this many wakes even when the
	// server does not suggest it yet; 0 means only when suggested.
	ContinueAfter int `json:"continue_after,omitempty"`
	// Generation is the code generation that started the run
	// (CurrentGeneration); 0 in runs started before it existed.
	Generation int `json:"generation,omitempty"`
}

// Keyed carries a request's Idempotency-Key, scoped and bound to its body
// by the API (hashes only), to be kept with the change when it is written.
type Keyed struct {
	Key register.IdempotencyKey `json:"key,omitzero"`
}

func (k Keyed) idempotencyKey() register.IdempotencyKey { return k.Key }

type keyed interface {
	idempotencyKey() register.IdempotencyKey
}

// Requests carried by updates. Actor is who asked, for the audit log.
type (
	TriageRequest struct {
		Keyed
		Actor    register.Actor  `json:"actor"`
		Decision string          `json:"decision"` // accept or decline
		Rating   register.Rating `json:"rag,omitempty"`
		Reason   string          `json:"reason,omitempty"`
	}
	ReviewRequest struct {
		Keyed
		Actor  register.Actor       `json:"actor"`
		Review register.ReviewInput `json:"review"`
	}
	RatingRequest struct {
		Keyed
		Actor  register.Actor  `json:"actor"`
		Rating register.Rating `json:"rag"`
		Reason string          `json:"reason"`
	}
	ActionsRequest struct {
		Keyed
		Actor   register.Actor       `json:"actor"`
		Actions []register.NewAction `json:"actions"`
	}
	CloseActionRequest struct {
		Keyed
		Actor    register.Actor `json:"actor"`
		ActionID string         `json:"action_id"`
		Outcome  string         `json:"outcome"`
		Cancel   bool           `json:"cancel,omitempty"`
	}
	ProfessionalsRequest struct {
		Keyed
		Actor         register.Actor          `json:"actor"`
		Professionals []register.Professional `json:"professionals"`
	}
	DischargeRequest struct {
		Keyed
		Actor  register.Actor `json:"actor"`
		Reason string         `json:"reason"`
	}
)

// Result is what every update returns.
type Result struct {
	Status        register.Status `json:"status"`
	Rating        register.Rating `json:"rag,omitempty"`
	NextReviewDue *time.Time      `json:"next_review_due"`
}

// Schedule is the answer to the schedule query.
type Schedule struct {
	Status        register.Status   `json:"status"`
	Rating        register.Rating   `json:"rag,omitempty"`
	NextReviewDue *time.Time        `json:"next_review_due"`
	Pending       []register.Notice `json:"pending"`
	OpenActions   int               `json:"open_actions"`
	// HistoryLength is the current run's event count; continue-as-new keeps
	// it bounded.
	HistoryLength int `json:"history_length"`
}

// Person is the workflow type: registered on a value holding the worker's
// timing, read through a mutable side effect so a configuration change
// reaches running workflows deterministically.
type Person struct {
	Timing register.Timing
	// PersistWithin bounds one change's write; 0 means
	// DefaultPersistWithin. Tests shorten it.
	PersistWithin time.Duration
}

// errInvalid wraps a domain error so its kind and fields survive the trip
// through Temporal to the API.
func errInvalid(e *register.Error) error {
	return temporal.NewApplicationErrorWithOptions(e.Message, "invalid", temporal.ApplicationErrorOptions{
		NonRetryable: true,
		Details:      []any{e.Fields},
	})
}

// DomainFailure carries a store's refusal (a *register.Error of any kind)
// through Temporal, final and with its kind, fields and id.
func DomainFailure(e *register.Error) error {
	return temporal.NewApplicationErrorWithOptions(e.Message, "domain", temporal.ApplicationErrorOptions{
		NonRetryable: true,
		Details:      []any{int(e.Kind), e.Fields, e.ID},
	})
}

// DomainError turns an update failure back into a *register.Error where it
// was one.
func DomainError(err error) error {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return err
	}
	switch app.Type() {
	case "invalid":
		fields := map[string]string{}
		if app.HasDetails() {
			_ = app.Details(&fields)
		}
		return &register.Error{Kind: register.KindInvalid, Message: app.Message(), Fields: fields}
	case "domain":
		e := &register.Error{Kind: register.KindInternal, Message: app.Message()}
		var kind int
		if app.HasDetails() && app.Details(&kind, &e.Fields, &e.ID) == nil {
			e.Kind = register.Kind(kind)
		}
		if e.Kind == register.KindInternal {
			return err // not a shown error: logged and answered 500
		}
		return e
	}
	return err
}

type run struct {
	ctx     workflow.Context
	in      Input
	w       *Person
	timing  register.Timing
	state   register.State
	mu      workflow.Mutex
	changed bool
	loaded  bool
	pending int
	version workflow.Version
	// dedup is versionDedup for runs that remember recent update ids.
	dedup  workflow.Version
	clocks workflow.Version
	logger interface {
		Info(string, ...any)
		Warn(string, ...any)
	}
}

// Run is the workflow function.
func (w *Person) Run(ctx workflow.Context, in Input) error {
	r := &run{ctx: ctx, in: in, w: w, mu: workflow.NewMutex(ctx), logger: workflow.GetLogger(ctx)}
	r.version = versionOf(ctx, in.Generation, versionChangeID, versionNoticeGuarantee)
	r.dedup = versionOf(ctx, in.Generation, dedupChangeID, versionDedup)
	r.clocks = versionOf(ctx, in.Generation, clocksChangeID, versionClocks)
	r.readTiming()
	// Handlers first: an update that arrives while the state loads waits
	// for it rather than being refused as unknown.
	if err := r.register(); err != nil {
		return err
	}
	if in.State != nil {
		r.state = *in.State
	} else {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		})
		if err := workflow.ExecuteActivity(actx, ActivityLoadState, in.PersonID).Get(ctx, &r.state); err != nil {
			return fmt.Errorf("load state: %w", err)
		}
	}
	if err := r.loadClocks(); err != nil {
		return err
	}
	r.loaded = true
	if r.state.Status == register.Referred && !r.state.Announced {
		r.state.Announced = true
		r.send(register.Notice{Kind: register.ReferralReceived, Occasion: r.state.ReferredAt.UTC().Format(time.RFC3339), At: r.state.ReferredAt})
	}

	for wakes := 0; ; wakes++ {
		r.readTiming()
		if !r.state.Status.Open() {
			break
		}
		if wakes > 0 && r.upgradeToClocks() {
			return r.continueAsNew()
		}
		now := workflow.Now(ctx)
		plan := r.timing.PlanAt(r.state, now)
		if r.version >= versionNoticeGuarantee {
			plan = r.timing.PlanPerAudience(r.state, now)
		}
		if len(plan.Skip) > 0 {
			r.skip(plan.Skip)
		}
		for _, n := range plan.Send {
			r.send(n)
		}
		r.timing.Advance(&r.state, now)

		info := workflow.GetInfo(ctx)
		if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > MaxHistory ||
			(in.ContinueAfter > 0 && wakes >= in.ContinueAfter) {
			return r.continueAsNew()
		}
		r.changed = false
		var wait time.Duration
		if !plan.Wake.IsZero() {
			wait = plan.Wake.Sub(now)
		}
		if wait > 0 {
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.changed }); err != nil {
				return err
			}
		} else if err := workflow.Await(ctx, func() bool { return r.changed }); err != nil {
			return err
		}
	}
	// Closed: let in-flight updates and notices finish before ending.
	return workflow.Await(ctx, func() bool { return r.pending == 0 && workflow.AllHandlersFinished(ctx) })
}

func (r *run) continueAsNew() error {
	if err := workflow.Await(r.ctx, func() bool { return r.pending == 0 && workflow.AllHandlersFinished(r.ctx) }); err != nil {
		return err
	}
	st := r.state
	return workflow.NewContinueAsNewError(r.ctx, PersonWorkflowName, Input{PersonID: r.in.PersonID, State: &st, ContinueAfter: r.in.ContinueAfter, Generation: CurrentGeneration})
}

func (r *run) readTiming() {
	v := workflow.MutableSideEffect(r.ctx, "timing", func(workflow.Context) any { return r.w.Timing },
		func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) })
	if err := v.Get(&r.timing); err != nil {
		// Only a corrupt history could cause this; keep the last timing.
		r.logger.Warn("reading timing failed", "error", err)
	}
}

// send starts the notify activity without blocking the loop; it retries
// until the mail server takes the message.
func (r *run) send(n register.Notice) {
	r.pending++
	actx := workflow.WithActivityOptions(r.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    0, // for as long as it takes: nothing is dropped
		},
	})
	f := workflow.ExecuteActivity(actx, ActivityNotify, r.in.PersonID, n)
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		if err := f.Get(ctx, nil); err != nil {
			r.logger.Warn("notice failed", "kind", n.Kind, "error", err)
		}
		r.pending--
	})
}

func (r *run) skip(ns []register.Notice) {
	r.pending++
	actx := workflow.WithActivityOptions(r.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	f := workflow.ExecuteActivity(actx, ActivitySkip, r.in.PersonID, ns)
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		_ = f.Get(ctx, nil)
		r.pending--
	})
}

// persist writes a change through the activity. Only a change that was
// written alters the workflow's state.
func (r *run) persist(ctx workflow.Context, c register.Change) error {
	within := r.w.PersistWithin
	if within <= 0 {
		within = DefaultPersistWithin
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// Two tries fit in the bound: a stalled connection is retried.
		StartToCloseTimeout:    within / 2,
		ScheduleToCloseTimeout: within,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, MaximumInterval: 10 * time.Second},
	})
	return workflow.ExecuteActivity(actx, ActivityPersist, c).Get(ctx, nil)
}

// settled decides a persist that failed: a refusal by the store (invalid,
// conflict) wrote nothing; anything else (a timeout, a lost connection)
// may have committed, so PostgreSQL is asked, and its answer made final,
// before the workflow decides. It asks for as long as it takes: the record
// and the schedule must not disagree.
func (r *run) settled(ctx workflow.Context, c register.Change, err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == "domain" {
		return false
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, MaximumInterval: 30 * time.Second},
	})
	var applied bool
	if serr := workflow.ExecuteActivity(actx, ActivitySettle, c).Get(ctx, &applied); serr != nil {
		r.logger.Warn("settling an uncertain write failed", "error", serr)
		return false
	}
	if applied {
		r.logger.Info("an uncertain write had been applied; adopting it")
	}
	return applied
}

func (r *run) result() Result { return resultOf(r.state) }

// repeated reports whether a change with this id was applied already, in
// this run or the one it continued from.
func (r *run) repeated(id string) bool { return r.dedup >= versionDedup && r.state.Applied(id) }

func resultOf(st register.State) Result {
	res := Result{Status: st.Status, Rating: st.Rating}
	if !st.ReviewDue.IsZero() {
		d := st.ReviewDue
		res.NextReviewDue = &d
	}
	return res
}

func (r *run) schedule() Schedule {
	res := r.result()
	return Schedule{Status: res.Status, Rating: res.Rating, NextReviewDue: res.NextReviewDue,
		Pending: r.timing.Upcoming(r.state), OpenActions: len(r.state.Actions),
		HistoryLength: workflow.GetInfo(r.ctx).GetCurrentHistoryLength()}
}

// handle serialises changes: validate against the current state, persist,
// then commit the new state and wake the loop.
func handle[T any](r *run, validate func(register.State, T, time.Time) *register.Error,
	apply func(ctx workflow.Context, st *register.State, req T, now time.Time) (register.Change, []register.Notice)) func(workflow.Context, T) (Result, error) {
	return func(ctx workflow.Context, req T) (Result, error) {
		if err := r.mu.Lock(ctx); err != nil {
			return Result{}, err
		}
		defer r.mu.Unlock()
		if err := workflow.Await(ctx, func() bool { return r.loaded }); err != nil {
			return Result{}, err
		}
		id := workflow.GetCurrentUpdateInfo(ctx).ID
		if r.repeated(id) {
			return r.result(), nil
		}
		now := workflow.Now(ctx).UTC()
		// Checked again under the lock: another change may have landed since
		// the validator ran.
		if e := validate(r.state, req, now); e != nil {
			return Result{}, errInvalid(e)
		}
		next := r.state
		next.Actions = append([]register.ActionState(nil), r.state.Actions...)
		next.CETRs = append([]register.CETRDue(nil), r.state.CETRs...)
		c, notices := apply(ctx, &next, req, now)
		if next.Clocks {
			// The record keeps a row for each C(E)TR the clock has due.
			c.Clocks, c.CETRDue = true, next.DueRows()
		}
		c.UpdateID = id
		c.PersonID = r.in.PersonID
		c.At, c.Status = now, next.Status
		if !next.ReviewDue.IsZero() {
			c.NextReviewDue = next.ReviewDue
		}
		if k, ok := any(req).(keyed); ok {
			c.Key = k.idempotencyKey()
		}
		res := resultOf(next)
		if c.Key.Scope != "" {
			c.Result, _ = json.Marshal(res) // plain values: cannot fail
		}
		if err := r.persist(ctx, c); err != nil {
			if r.version < versionNoticeGuarantee || !r.settled(ctx, c, err) {
				return Result{}, err
			}
		}
		if r.version >= versionNoticeGuarantee {
			// The loop may have sent a rung while the change was written:
			// keep that progress, or the rung would be planned again.
			register.KeepProgress(&next, r.state)
		}
		r.state = next
		if r.dedup >= versionDedup {
			r.state.NoteUpdate(id)
		}
		for _, n := range notices {
			r.send(n)
		}
		r.changed = true
		return res, nil
	}
}

func (r *run) update(name string, handler any, validator any) error {
	return workflow.SetUpdateHandlerWithOptions(r.ctx, name, handler, workflow.UpdateHandlerOptions{Validator: validator})
}

func validatorOf[T any](r *run, validate func(register.State, T, time.Time) *register.Error) func(workflow.Context, T) error {
	return func(ctx workflow.Context, req T) error {
		if !r.loaded || r.repeated(workflow.GetCurrentUpdateInfo(ctx).ID) {
			// The handler validates once the state is loaded; a repeated
			// change is answered by the handler without being applied.
			return nil
		}
		if e := validate(r.state, req, workflow.Now(ctx).UTC()); e != nil {
			return errInvalid(e)
		}
		return nil
	}
}

func (r *run) register() error {
	if err := workflow.SetQueryHandler(r.ctx, QuerySchedule, func() (Schedule, error) { return r.schedule(), nil }); err != nil {
		return err
	}
	regs := []reg{
		{UpdateTriage, handle(r, r.validateTriage, r.applyTriage), validatorOf(r, r.validateTriage)},
		{UpdateRecordReview, handle(r, r.validateReview, r.applyReview), validatorOf(r, r.validateReview)},
		{UpdateChangeRating, handle(r, r.validateRating, r.applyRating), validatorOf(r, r.validateRating)},
		{UpdateAddActions, handle(r, validateActions, applyActions), validatorOf(r, validateActions)},
		{UpdateCloseAction, handle(r, validateCloseAction, applyCloseAction), validatorOf(r, validateCloseAction)},
		{UpdateProfessionals, handle(r, validateProfessionals, applyProfessionals), validatorOf(r, validateProfessionals)},
		{UpdateDischarge, handle(r, validateDischarge, applyDischarge), validatorOf(r, validateDischarge)},
		{UpdateCorrectDetails, handle(r, r.validateCorrection, r.applyCorrection), validatorOf(r, r.validateCorrection)},
		{UpdateMoveReview, handle(r, validateMoveReview, r.applyMoveReview), validatorOf(r, validateMoveReview)},
	}
	regs = append(regs, r.clockRegs()...)
	for _, g := range regs {
		if err := r.update(g.name, g.h, g.v); err != nil {
			return fmt.Errorf("register update %s: %w", g.name, err)
		}
	}
	return nil
}

// reg is one update: its name, handler and validator.
type reg struct {
	name string
	h, v any
}

// SetKey attaches the caller's scoped Idempotency-Key to a request.
func (k *Keyed) SetKey(key register.IdempotencyKey) { k.Key = key }
