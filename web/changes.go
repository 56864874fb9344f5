package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// changePage is the data of each form that changes a record.
type changePage struct {
	P      register.Person
	Action register.Action // the action being completed
	Grow   growingRows     // rows of new actions or professionals
	Emails []string        // the named professionals' emails, as a hint
	CETR   register.CETR   // the C(E)TR being booked, recorded or cancelled
	Op     string          // book, record or cancel
	// Admission is the admission whose root-cause outcome is recorded.
	Admission register.Admission
	Risk      register.RiskTool // the area's risk tool, on the review form
}

// problem is a form-wide error (not about one field), shown in the error
// summary without a link.
const formProblem = ""

// changeFailed puts a refused change on the form and returns the status to
// show it with; 0 means the error is not the form's to show.
func (f *form) changeFailed(err error, paths func(string) string) int {
	var e *register.Error
	if !errors.As(err, &e) {
		return 0
	}
	status := 0
	switch e.Kind {
	case register.KindInvalid:
		status = http.StatusUnprocessableEntity
		if len(e.Fields) > 0 {
			f.failAll(e.Fields, paths)
			break
		}
		f.Errors[formProblem] = upperFirst(e.Message)
	case register.KindConflict:
		status = http.StatusConflict
		f.Errors[formProblem] = upperFirst(e.Message)
	case register.KindUnavailable:
		status = http.StatusServiceUnavailable
		f.Errors[formProblem] = e.Message
	default:
		return 0
	}
	f.ok()
	return status
}

// person reads the record a form is about (an audited read: the form shows
// the person's name and details).
func (s *server) person(w http.ResponseWriter, r *http.Request) (register.Person, bool) {
	p, err := s.readPerson(r, chi.URLParam(r, "id"))
	if err != nil {
		s.renderError(w, r, err)
		return p, false
	}
	return p, true
}

// needActive refuses a form for a person who is not on the register.
func (s *server) needActive(w http.ResponseWriter, r *http.Request, p register.Person) bool {
	if p.Status != register.Active {
		s.renderError(w, r, &register.Error{Kind: register.KindConflict,
			Message: fmt.Sprintf("%s %s is not on the register (%s), so this cannot be changed.", p.GivenName, p.FamilyName, strings.ToLower(statusName(p.Status)))})
		return false
	}
	return true
}

func (s *server) showChange(w http.ResponseWriter, r *http.Request, status int, tmpl, title string, f *form, page changePage) {
	v := s.newView(r, title, "home", page)
	v.Form = f
	s.render(w, r, status, tmpl, v)
}

// change is a form that changes a record, as it is shown again after a
// submission: its template, title and page data.
type change struct {
	tmpl, title string
	page        changePage
}

// update is what a change's submission sends: the workflow update, its
// request, and how the validator's paths map onto the form's fields.
type update struct {
	name  string
	req   any
	paths func(string) string
}

// submit ends every change's POST the same way: a form with problems comes
// back with them (422); otherwise the update is sent, a refusal is shown
// on the form, and success goes to next, whose page confirms it.
func (s *server) submit(w http.ResponseWriter, r *http.Request, c change, f *form, id string, u update, next string) {
	if !f.ok() {
		s.showChange(w, r, http.StatusUnprocessableEntity, c.tmpl, c.title, f, c.page)
		return
	}
	if _, err := s.send(r.Context(), r, id, u.name, f.Nonce, u.req); err != nil {
		if status := f.changeFailed(err, u.paths); status != 0 {
			s.showChange(w, r, status, c.tmpl, c.title, f, c.page)
			return
		}
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, next)
}

// activePerson reads the request's form (for a GET, its query) and the
// record a change is about, which must be on the register; it has answered
// when it returns false.
func (s *server) activePerson(w http.ResponseWriter, r *http.Request) (register.Person, bool) {
	if !s.parse(w, r) {
		return register.Person{}, false
	}
	p, ok := s.person(w, r)
	return p, ok && s.needActive(w, r, p)
}

func (s *server) parse(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return false
	}
	return true
}

// derivedID makes an id from the form's nonce, so a form sent twice names
// the same review or action.
func derivedID(nonce, what string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("dsr-web/"+nonce+"/"+what)).String()
}

// ---- Triage ----

type triageRow struct {
	store.PersonSummary
	Days    int
	Overdue bool
}

type triagePage struct {
	People []triageRow
	Within string
}

func (s *server) triageQueue(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	list, err := s.listAll(r.Context(), s.actor(r), store.ListFilter{Status: register.Referred, Now: now}, true)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	slices.SortStableFunc(list, func(a, b store.PersonSummary) int { return a.ReferredAt.Compare(b.ReferredAt) })
	within := s.d.Config.Timing.TriageWithin
	p := triagePage{Within: humanDuration(within)}
	for _, ps := range list {
		waited := now.Sub(ps.ReferredAt)
		p.People = append(p.People, triageRow{PersonSummary: ps, Days: int(waited / (24 * time.Hour)), Overdue: within > 0 && waited > within})
	}
	v := s.newView(r, "Referrals to decide", "triage", p)
	if r.URL.Query().Get("done") == "declined" {
		v.Banner = "Referral declined. The referrer is told by email."
	}
	s.render(w, r, http.StatusOK, "triage", v)
}

func triageSpecs() []spec {
	return []spec{
		{Name: "decision", Label: "whether to accept the referral", Kind: radioField, Required: "Select whether to accept or decline the referral"},
		{Name: "rag", Label: "a rating", Kind: radioField, Required: "Select a rating"},
		{Name: "reason", Label: "Why the referral is declined", Required: "Enter why the referral is declined: the referrer is told"},
	}
}

func (s *server) triageForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.person(w, r)
	if !ok {
		return
	}
	if p.Status != register.Referred {
		s.renderError(w, r, &register.Error{Kind: register.KindConflict, Message: "This referral has already been decided."})
		return
	}
	f := newForm(triageSpecs(), nil)
	if p.ProposedRAG.Valid() {
		f.Values.Set("rag", string(p.ProposedRAG))
	}
	s.showChange(w, r, http.StatusOK, "triage_form", "Decide on the referral", f, changePage{P: p})
}

func (s *server) triagePost(w http.ResponseWriter, r *http.Request) {
	if !s.parse(w, r) {
		return
	}
	p, ok := s.person(w, r)
	if !ok {
		return
	}
	f := newForm(triageSpecs(), r.PostForm)
	req := workflows.TriageRequest{Actor: s.actor(r), Decision: f.get("decision")}
	switch req.Decision {
	case "accept":
		req.Rating = register.Rating(f.get("rag"))
		if !req.Rating.Valid() {
			f.fail("rag", "required")
		}
	case "decline":
		req.Reason = f.text("reason")
		if strings.TrimSpace(req.Reason) == "" {
			f.fail("reason", "required")
		}
	default:
		f.fail("decision", "required")
	}
	next := "/people/" + p.ID + "?done=accepted"
	if req.Decision == "decline" {
		next = "/triage?done=declined"
	}
	s.submit(w, r, change{"triage_form", "Decide on the referral", changePage{P: p}}, f, p.ID, update{workflows.UpdateTriage, req, nil}, next)
}

// ---- Review ----

// The review form offers newActionRows new actions, and up to
// maxNewActionRows when asked for more.
const (
	newActionRows    = 2
	maxNewActionRows = 10
)

func actionSpecs(prefix string, rows int) []spec {
	var specs []spec
	for i := range rows {
		p, n, which := fmt.Sprintf("%s[%d].", prefix, i), fmt.Sprintf("New action %d: ", i+1), fmt.Sprintf(" (new action %d)", i+1)
		if rows == 1 {
			p, n, which = "", "", ""
		}
		specs = append(specs,
			spec{Name: p + "description", Label: n + "What needs doing", Required: "Enter what needs doing" + which},
			spec{Name: p + "owner_email", Label: n + "Owner's email address", Required: "Enter the email address of the person who will do it" + which},
			spec{Name: p + "due", Label: n + "Due date", Kind: dateField, Required: "Enter the date it is due" + which},
		)
	}
	return specs
}

func reviewSpecs(rows int) []spec {
	specs := []spec{
		{Name: "held_at", Label: "The date of the review", Kind: dateField, Required: "Enter the date of the review"},
		{Name: "rag", Label: "a rating", Kind: radioField, Required: "Select the rating agreed at the review"},
		{Name: "current_issues", Label: "Current issues"},
		{Name: "tried", Label: "What has been tried"},
		{Name: "could_help", Label: "What could help"},
		{Name: "needs", Label: "Service needs"},
		{Name: "notes", Label: "Notes"},
		{Name: "risk", Label: "Risk tool"},
		{Name: "risk_reason", Label: "Why the rating differs from the risk tool's suggestion"},
	}
	return append(specs, actionSpecs("actions", rows)...)
}

func (s *server) reviewPage(p register.Person, g growingRows) changePage {
	page := changePage{P: p, Grow: g, Risk: s.d.Config.RiskTool}
	for _, pr := range p.Professionals {
		page.Emails = append(page.Emails, pr.Email)
	}
	return page
}

func (s *server) reviewForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	g := newRows(newActionRows, maxNewActionRows)
	f := newForm(reviewSpecs(len(g.Rows)), nil)
	f.setDate("held_at", s.now())
	f.Values.Set("rag", string(p.Rating))
	f.Values.Set("current_issues", p.CurrentIssues)
	f.Values.Set("tried", p.Tried)
	f.Values.Set("could_help", p.CouldHelp)
	if meetingLink(r.Form.Get("meeting")) != "" {
		f.Values.Set("meeting", r.Form.Get("meeting")) // back to the meeting page after
	}
	s.showChange(w, r, http.StatusOK, "review", "Record a review", f, s.reviewPage(p, g))
}

// heldAt reads the review's date: today means now; an earlier day means
// midday that day in London, or just after the previous review (or the
// acceptance) when that was later the same day: a form opened before
// midnight and sent after it offers yesterday's date, and the review was
// not held before the person it reviews was accepted.
func heldAt(day string, now, previous time.Time) time.Time {
	if day == "" || day == now.In(register.London).Format(time.DateOnly) {
		return time.Time{} // the workflow takes now
	}
	d, err := time.ParseInLocation(time.DateOnly, day, register.London)
	if err != nil {
		return time.Time{}
	}
	held := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, register.London).UTC()
	if !previous.IsZero() && previous.In(register.London).Format(time.DateOnly) == day && !held.After(previous) {
		held = previous.Add(time.Minute).UTC()
		if held.After(now) {
			held = now.UTC()
		}
	}
	return held
}

// lastReviewed is when the record was last reviewed, or accepted onto the
// register if never reviewed: a new review cannot be held before it.
func lastReviewed(p register.Person) time.Time {
	var t time.Time
	for _, at := range []*time.Time{p.AcceptedAt, p.LastReviewAt} {
		if at != nil && at.After(t) {
			t = *at
		}
	}
	return t
}

// readActions reads the new-action rows, leaving out blank ones; it
// returns the actions and the form row each came from.
func readActions(f *form, prefix string, rows int) ([]register.NewAction, []int) {
	var out []register.NewAction
	var from []int
	for i := range rows {
		p := fmt.Sprintf("%s[%d].", prefix, i)
		if rows == 1 {
			p = ""
		}
		desc, owner := f.text(p+"description"), f.get(p+"owner_email")
		due := f.date(p + "due")
		dayParts := f.get(p+"due-day") + f.get(p+"due-month") + f.get(p+"due-year")
		if strings.TrimSpace(desc) == "" && owner == "" && dayParts == "" && rows > 1 {
			continue // a row left blank
		}
		a := register.NewAction{ID: derivedID(f.Nonce, "action/"+strconv.Itoa(i)), Description: desc, OwnerEmail: strings.ToLower(owner)}
		if strings.TrimSpace(desc) == "" {
			f.fail(p+"description", "required")
		}
		if owner == "" {
			f.fail(p+"owner_email", "required")
		}
		if due == "" {
			f.fail(p+"due", "required")
		} else {
			a.Due = dueAt(due)
		}
		out = append(out, a)
		from = append(from, i)
	}
	return out, from
}

func (s *server) reviewPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	now := s.now()
	g, add := readRows(r.PostForm, newActionRows, newActionRows, maxNewActionRows)
	f := newForm(reviewSpecs(len(g.Rows)), r.PostForm)
	if add {
		s.showChange(w, r, http.StatusOK, "review", "Record a review", f, s.reviewPage(p, g))
		return
	}
	day := f.date("held_at")
	if day == "" && f.Errors["held_at"] == "" {
		f.fail("held_at", "required")
	}
	in := register.ReviewInput{
		ID:            derivedID(f.Nonce, "review"),
		HeldAt:        heldAt(day, now, lastReviewed(p)),
		Rating:        register.Rating(f.get("rag")),
		CurrentIssues: f.text("current_issues"),
		Tried:         f.text("tried"),
		CouldHelp:     f.text("could_help"),
		Notes:         f.text("notes"),
	}
	for _, n := range f.Values["needs"] {
		if slices.Contains(register.Needs, n) {
			in.Needs = append(in.Needs, n)
		}
	}
	if !in.Rating.Valid() {
		f.fail("rag", "required")
	}
	if yes, reason := f.Values["risk"], f.text("risk_reason"); len(yes) > 0 || reason != "" {
		tool := s.d.Config.RiskTool
		a := tool.Answer(yes, reason)
		problems := map[string]string{}
		tool.CheckRisk(problems, a, in.Rating)
		for k, v := range problems {
			if k == "risk.reason" {
				v = "The risk tool suggests " + string(a.Suggested) + ": say why the rating agreed differs"
				k = "risk_reason"
			} else {
				k = "risk"
			}
			f.fail(k, v)
		}
		in.Risk = &a
	}
	var rows []int
	in.Actions, rows = readActions(f, "actions", len(g.Rows))
	s.submit(w, r, change{"review", "Record a review", s.reviewPage(p, g)}, f, p.ID,
		update{workflows.UpdateRecordReview, workflows.ReviewRequest{Actor: s.actor(r), Review: in}, rowPath("actions", rows)},
		reviewDone(p.ID, f.get("meeting")))
}

// ---- Rating ----

func ratingSpecs() []spec {
	return []spec{
		{Name: "rag", Label: "The new rating", Kind: radioField, Required: "Select the new rating"},
		{Name: "reason", Label: "Why the rating changes", Required: "Enter why the rating changes"},
	}
}

func (s *server) ratingForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	s.showChange(w, r, http.StatusOK, "rating", "Change the rating", newForm(ratingSpecs(), nil), changePage{P: p})
}

func (s *server) ratingPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	f := newForm(ratingSpecs(), r.PostForm)
	req := workflows.RatingRequest{Actor: s.actor(r), Rating: register.Rating(f.get("rag")), Reason: f.text("reason")}
	if !req.Rating.Valid() {
		f.fail("rag", "required")
	}
	if strings.TrimSpace(req.Reason) == "" {
		f.fail("reason", "required")
	}
	s.submit(w, r, change{"rating", "Change the rating", changePage{P: p}}, f, p.ID,
		update{workflows.UpdateChangeRating, req, nil}, "/people/"+p.ID+"?done=rating")
}

// ---- Actions ----

func (s *server) actionPage(p register.Person) changePage {
	page := changePage{P: p}
	for _, pr := range p.Professionals {
		page.Emails = append(page.Emails, pr.Email)
	}
	return page
}

func (s *server) actionForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	f := newForm(actionSpecs("", 1), nil)
	if u, ok := s.user(r); ok {
		f.Values.Set("owner_email", u.Email)
	}
	s.showChange(w, r, http.StatusOK, "action", "Add an action", f, s.actionPage(p))
}

func (s *server) actionPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	f := newForm(actionSpecs("", 1), r.PostForm)
	actions, _ := readActions(f, "", 1)
	one := func(path string) string { return strings.TrimPrefix(path, "actions[0].") }
	s.submit(w, r, change{"action", "Add an action", s.actionPage(p)}, f, p.ID,
		update{workflows.UpdateAddActions, workflows.ActionsRequest{Actor: s.actor(r), Actions: actions}, one},
		"/people/"+p.ID+"?done=action")
}

func completeSpecs() []spec {
	return []spec{{Name: "outcome", Label: "What was done", Required: "Enter what was done"}}
}

// openAction finds the open action of the URL on the record and checks the
// user may complete it: the coordinator, or the action's owner.
func (s *server) openAction(w http.ResponseWriter, r *http.Request, p register.Person) (register.Action, bool) {
	aid := chi.URLParam(r, "action_id")
	for _, a := range p.Actions {
		if a.ID != aid {
			continue
		}
		if a.Status != register.ActionOpen {
			s.renderError(w, r, &register.Error{Kind: register.KindConflict, Message: "This action is already finished."})
			return a, false
		}
		act := s.actor(r)
		if act.Role != store.RoleCoordinator && !strings.EqualFold(a.OwnerEmail, act.Email) {
			_ = s.d.Store.Audit(r.Context(), act, "refused", p.ID, []string{"actions"}, "complete action: not the owner")
			s.renderError(w, r, register.Forbidden("Only the action's owner or a coordinator can mark it as done."))
			return a, false
		}
		return a, true
	}
	s.renderError(w, r, register.NotFound("action"))
	return register.Action{}, false
}

func (s *server) completeForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	a, ok := s.openAction(w, r, p)
	if !ok {
		return
	}
	s.showChange(w, r, http.StatusOK, "complete", "Mark an action as done", newForm(completeSpecs(), nil), changePage{P: p, Action: a})
}

func (s *server) completePost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	a, ok := s.openAction(w, r, p)
	if !ok {
		return
	}
	f := newForm(completeSpecs(), r.PostForm)
	outcome := f.text("outcome")
	if strings.TrimSpace(outcome) == "" {
		f.fail("outcome", "required")
	}
	req := workflows.CloseActionRequest{Actor: s.actor(r), ActionID: a.ID, Outcome: outcome}
	s.submit(w, r, change{"complete", "Mark an action as done", changePage{P: p, Action: a}}, f, p.ID,
		update{workflows.UpdateCloseAction, req, nil}, "/people/"+p.ID+"?done=completed")
}

// ---- Professionals ----

func professionalSpecs(rows int) []spec {
	specs := []spec{{Name: "professionals", Label: "Professionals", Required: "Name at least one professional, with an email address"}}
	for i := range rows {
		p := fmt.Sprintf("professionals[%d].", i)
		n := fmt.Sprintf("Professional %d's ", i+1)
		specs = append(specs,
			spec{Name: p + "name", Label: n + "name", Required: fmt.Sprintf("Enter professional %d's name", i+1)},
			spec{Name: p + "role", Label: n + "role"},
			spec{Name: p + "organisation", Label: n + "organisation"},
			spec{Name: p + "email", Label: n + "email address", Required: fmt.Sprintf("Enter professional %d's email address", i+1)},
			spec{Name: p + "manager_email", Label: n + "manager's email address"},
		)
	}
	return specs
}

// professionalRowsFor is how many rows the form shows: everyone named now
// and two more, within the register's limit.
func professionalRowsFor(n int) int {
	return min(max(n+2, 3), register.MaxProfessionals)
}

func (s *server) professionalsForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	g := newRows(professionalRowsFor(len(p.Professionals)), register.MaxProfessionals)
	f := newForm(professionalSpecs(len(g.Rows)), nil)
	for i, pr := range p.Professionals {
		pre := fmt.Sprintf("professionals[%d].", i)
		f.Values.Set(pre+"name", pr.Name)
		f.Values.Set(pre+"role", pr.Role)
		f.Values.Set(pre+"organisation", pr.Organisation)
		f.Values.Set(pre+"email", pr.Email)
		f.Values.Set(pre+"manager_email", pr.ManagerEmail)
	}
	s.showChange(w, r, http.StatusOK, "professionals", "Change the professionals named", f, changePage{P: p, Grow: g})
}

func (s *server) professionalsPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	g, add := readRows(r.PostForm, 1, professionalRowsFor(len(p.Professionals)), register.MaxProfessionals)
	rows := len(g.Rows)
	f := newForm(professionalSpecs(rows), r.PostForm)
	page := changePage{P: p, Grow: g}
	if add {
		s.showChange(w, r, http.StatusOK, "professionals", "Change the professionals named", f, page)
		return
	}
	var list []register.Professional
	var from []int
	for i := range rows {
		pre := fmt.Sprintf("professionals[%d].", i)
		pr := register.Professional{Name: f.get(pre + "name"), Role: f.get(pre + "role"), Organisation: f.get(pre + "organisation"),
			Email: strings.ToLower(f.get(pre + "email")), ManagerEmail: strings.ToLower(f.get(pre + "manager_email"))}
		if pr == (register.Professional{}) {
			continue
		}
		list = append(list, pr)
		from = append(from, i)
	}
	fields := map[string]string{}
	workflows.ValidateProfessionals(fields, "professionals", list)
	f.failAll(fields, rowPath("professionals", from))
	req := workflows.ProfessionalsRequest{Actor: s.actor(r), Professionals: list}
	s.submit(w, r, change{"professionals", "Change the professionals named", page}, f, p.ID,
		update{workflows.UpdateProfessionals, req, rowPath("professionals", from)}, "/people/"+p.ID+"?done=professionals")
}

// ---- Discharge ----

func dischargeSpecs() []spec {
	return []spec{{Name: "reason", Label: "Why the person is discharged", Required: "Enter why the person is discharged from the register"}}
}

func (s *server) dischargeForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	s.showChange(w, r, http.StatusOK, "discharge", "Discharge from the register", newForm(dischargeSpecs(), nil), changePage{P: p})
}

func (s *server) dischargePost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	f := newForm(dischargeSpecs(), r.PostForm)
	reason := f.text("reason")
	if strings.TrimSpace(reason) == "" {
		f.fail("reason", "required")
	}
	req := workflows.DischargeRequest{Actor: s.actor(r), Reason: reason}
	s.submit(w, r, change{"discharge", "Discharge from the register", changePage{P: p}}, f, p.ID,
		update{workflows.UpdateDischarge, req, nil}, "/people/"+p.ID+"?done=discharged")
}

// reviewDone is where a recorded review goes: back to the meeting page
// when it was recorded from one, else the record.
func reviewDone(personID, meetingID string) string {
	if l := meetingLink(meetingID); l != "" {
		return l + "?done=review"
	}
	return "/people/" + personID + "?done=review"
}
