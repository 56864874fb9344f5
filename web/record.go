package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// queryTimeout bounds the schedule query on the record page; the page is
// shown without the schedule rather than late.
const queryTimeout = 3 * time.Second

// visible lets through only requests for a person the user may see. A
// person who does not exist and one the user has no part in are both 404,
// so guessing ids reveals nothing; refusals are audited, as in the API.
func (s *server) visible(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if _, err := uuid.Parse(id); err != nil {
			s.renderError(w, r, register.NotFound("person"))
			return
		}
		a := s.actor(r)
		ok, err := s.d.Store.CanSee(r.Context(), a, id)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if !ok {
			if a.Role != store.RoleCoordinator && !crossSite(r) {
				_ = s.d.Store.Audit(r.Context(), a, "refused", id, nil, r.Method+" web "+routePattern(r))
			}
			s.renderError(w, r, register.NotFound("person"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite reports whether the browser says the request comes from
// another site's page (Sec-Fetch-Site: cross-site): a link, an image or a
// script there, followed or loaded in the user's name without their
// choosing it. Such a request is served, but writes nothing to the audit
// log: otherwise any site could fill a user's audit trail with reads (or
// refusals) of records they never meant to open. A navigation the user
// made (a link in the register, a bookmark, an address typed or opened
// from a mail program: same-origin, same-site or none), and a client that
// sends no such header, is audited as ever.
func crossSite(r *http.Request) bool { return r.Header.Get("Sec-Fetch-Site") == "cross-site" }

// readPerson reads a record for a page: audited, unless the request is
// cross-site (see crossSite).
func (s *server) readPerson(r *http.Request, id string) (register.Person, error) {
	if crossSite(r) {
		return s.d.Store.GetPerson(r.Context(), id)
	}
	return s.d.Store.ReadPerson(r.Context(), s.actor(r), id)
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return r.URL.Path
}

// recordPage is the person's record.
type recordPage struct {
	P             register.Person
	Age           int
	HasAge        bool
	Schedule      *workflows.Schedule
	ScheduleError string
	CanChange     bool // record reviews, change the rating, add actions
	Coordinator   bool
	UserEmail     string
	OpenActions   []register.Action
	ClosedActions []register.Action
	History       []register.RatingChange
	Notices       []register.NoticeSummary
	// StuckBefore: a notice still sending that was first tried before this
	// is shown as waiting too long (DSR_NOTICE_STUCK_AFTER).
	StuckBefore time.Time
	Users       map[string]string // user id to name, for "recorded by"
	Now         time.Time
}

// banners are the confirmations a change redirects to the record with.
var banners = map[string]string{
	"accepted":      "Referral accepted: the person is on the register.",
	"review":        "Review recorded. The next review is planned from it.",
	"rating":        "Rating changed. The review schedule follows the new rating.",
	"action":        "Action added. Its owner is reminded before it is due.",
	"completed":     "Action marked as done.",
	"professionals": "Professionals replaced. Reminders now go to the people named.",
	"discharged":    "The person has been discharged from the register.",
	"corrected":     "Details corrected. The previous values are kept in the record's history.",
	"cetr-book":     "C(E)TR booked. Its reminders go on until it is recorded as held.",
	"cetr-record":   "C(E)TR recorded as held. Its recommendations are on the action plan.",
	"cetr-cancel":   "C(E)TR cancelled. The reason is kept on the record.",
	"keyworker":     "Keyworker recorded.",
	"root-cause":    "Root-cause review outcome recorded.",
	"inpatient":     "Inpatient news recorded. The C(E)TR timeline follows it.",
	"consent":       "Consent recorded. It will be revisited a year from now.",
	"withdrawn":     "Consent withdrawn: the person is off the register. The record and the reason are kept.",
}

func (s *server) record(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	a := s.actor(r)
	p, err := s.readPerson(r, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.now()
	s.d.Config.Timing.Annotate(&p, now)
	page := recordPage{P: p, Coordinator: a.Role == store.RoleCoordinator, UserEmail: strings.ToLower(a.Email), Now: now}
	page.CanChange = p.Status == register.Active
	if age, err := register.AgeOn(p.DateOfBirth, now); err == nil {
		page.Age, page.HasAge = age, true
	}
	for _, act := range p.Actions {
		if act.Status == register.ActionOpen {
			page.OpenActions = append(page.OpenActions, act)
		} else {
			page.ClosedActions = append(page.ClosedActions, act)
		}
	}
	page.History = slices.Clone(p.RatingHistory)
	slices.Reverse(page.History)
	page.Notices = slices.Clone(p.Notices)
	slices.Reverse(page.Notices)
	page.StuckBefore = now.Add(-s.d.Config.NoticeStuckAfter)
	page.Users = s.userNames(r.Context())

	if p.Status.Open() {
		ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
		defer cancel()
		sched, err := s.schedule(ctx, id)
		if err != nil {
			s.log.WarnContext(r.Context(), "schedule query failed", "person", id, "error", err)
			page.ScheduleError = "The schedule cannot be shown just now: the register's workflow did not answer. The record above is up to date."
		} else {
			page.Schedule = &sched
		}
	}
	v := s.newView(r, p.GivenName+" "+p.FamilyName, "home", page)
	v.Banner = banners[r.URL.Query().Get("done")]
	s.render(w, r, http.StatusOK, "record", v)
}

func (s *server) schedule(ctx context.Context, id string) (workflows.Schedule, error) {
	var sched workflows.Schedule
	v, err := s.d.Temporal.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QuerySchedule)
	if err != nil {
		return sched, err
	}
	err = v.Get(&sched)
	return sched, err
}

// userNames maps user ids to names, for who recorded a review or changed
// a rating. Staff names are not patient data.
func (s *server) userNames(ctx context.Context) map[string]string {
	users, err := s.d.Store.ListUsers(ctx, "")
	if err != nil {
		return nil
	}
	m := make(map[string]string, len(users))
	for _, u := range users {
		m[u.ID] = u.Name
	}
	return m
}

// send makes a change through the person's workflow, exactly as the API
// does: the update waits until the change is written or refused. The form's
// nonce makes the update id, so a form sent twice changes the record once.
// The id is scoped to the user, the person and the change, so a nonce can
// never stand for a change to anyone else.
func (s *server) send(ctx context.Context, r *http.Request, id, update, nonce string, req any) (workflows.Result, error) {
	var updateID string
	if nonce != "" {
		updateID = webUpdateID(s.actor(r).UserID, id, update, nonce)
	}
	var res workflows.Result
	err := workflows.Update(ctx, s.d.Temporal, id, update, updateID, req, &res)
	return res, err
}

// webUpdateID is a web form's update id: one per user, person, change and
// form nonce.
func webUpdateID(user, person, update, nonce string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("web/"+user+"/"+person+"/"+update+"/"+nonce)).String()
}
