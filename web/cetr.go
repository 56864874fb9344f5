package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// cetrRoutes are the C(E)TR and keyworker forms (issue 12), under
// /people/{id}: booking and recording for everyone who may record a
// review, cancelling and the keyworker for coordinators.
func (s *server) cetrRoutes(r chi.Router) {
	for _, op := range []string{"book", "record"} {
		r.Get("/cetrs/{cetr_id}/"+op, s.cetrForm(op))
		r.Post("/cetrs/{cetr_id}/"+op, s.cetrPost(op))
	}
	coord := r.With(s.roles("coordinator"))
	coord.Get("/cetrs/{cetr_id}/cancel", s.cetrForm("cancel"))
	coord.Post("/cetrs/{cetr_id}/cancel", s.cetrPost("cancel"))
	coord.Get("/keyworker", s.keyworkerForm)
	coord.Post("/keyworker", s.keyworkerPost)
	coord.Get("/root-cause", s.rootCauseForm)
	coord.Post("/root-cause", s.rootCausePost)
	coord.Get("/consent", s.consentForm(false))
	coord.Post("/consent", s.consentPost(false))
	coord.Get("/consent/withdraw", s.consentForm(true))
	coord.Post("/consent/withdraw", s.consentPost(true))
	coord.Get("/inpatient", s.inpatientForm)
	coord.Post("/inpatient", s.inpatientPost)
}

var cetrTitles = map[string]string{"book": "Book a C(E)TR", "record": "Record a C(E)TR as held", "cancel": "Cancel a C(E)TR"}

// The record-as-held form offers cetrActionRows recommendation rows, and
// up to maxNewActionRows when asked for more.
const cetrActionRows = 2

// cetrSpecs are the fields of each C(E)TR form; rows is the number of
// recommendation rows on the record-as-held form.
func cetrSpecs(op string, rows int) []spec {
	switch op {
	case "book":
		return []spec{{Name: "booked_for", Label: "Booked for", Kind: dateField, Required: "Enter the date it is booked for"}}
	case "record":
		return append([]spec{{Name: "held_at", Label: "Date held", Kind: dateField, Required: "Enter the date it was held"},
			{Name: "chair", Label: "Chair", Required: "Enter who chaired it"}, {Name: "notes", Label: "Notes"}},
			actionSpecs("actions", rows)...)
	}
	return []spec{{Name: "reason", Label: "Why it is cancelled", Required: "Enter why it is cancelled"}}
}

// openCETR finds the record's due or booked C(E)TR named in the path.
func (s *server) openCETR(w http.ResponseWriter, r *http.Request, p register.Person) (register.CETR, bool) {
	id := chi.URLParam(r, "cetr_id")
	i := slices.IndexFunc(p.CETRs, func(c register.CETR) bool {
		return c.ID == id && (c.Status == register.CETRDueStatus || c.Status == register.CETRBooked)
	})
	if i < 0 {
		s.renderError(w, r, register.NotFound("C(E)TR"))
		return register.CETR{}, false
	}
	return p.CETRs[i], true
}

func (s *server) cetrPerson(w http.ResponseWriter, r *http.Request) (register.Person, register.CETR, bool) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return p, register.CETR{}, false
	}
	s.d.Config.Timing.Annotate(&p, s.now())
	c, ok := s.openCETR(w, r, p)
	return p, c, ok
}

func (s *server) cetrForm(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, c, ok := s.cetrPerson(w, r)
		if !ok {
			return
		}
		g := newRows(cetrActionRows, maxNewActionRows)
		f := newForm(cetrSpecs(op, len(g.Rows)), nil)
		if op == "record" {
			f.setDate("held_at", s.now())
		}
		s.showChange(w, r, http.StatusOK, "cetr", cetrTitles[op], f, cetrPage(p, c, op, g))
	}
}

func (s *server) cetrPost(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, c, ok := s.cetrPerson(w, r)
		if !ok {
			return
		}
		g, add := readRows(r.PostForm, cetrActionRows, cetrActionRows, maxNewActionRows)
		f := newForm(cetrSpecs(op, len(g.Rows)), r.PostForm)
		page := cetrPage(p, c, op, g)
		if add && op == "record" {
			s.showChange(w, r, http.StatusOK, "cetr", cetrTitles[op], f, page)
			return
		}
		in := register.CETRInput{ID: c.ID, Kind: c.Kind}
		name := workflows.UpdateCancelCETR
		paths := cetrPath
		switch op {
		case "book":
			name = workflows.UpdateBookCETR
			if in.BookedFor = dueAt(f.date("booked_for")); in.BookedFor.IsZero() {
				f.fail("booked_for", "required")
			}
		case "record":
			name = workflows.UpdateRecordCETR
			day := f.date("held_at")
			if day == "" {
				f.fail("held_at", "required")
			} else if d, err := time.ParseInLocation(time.DateOnly, day, register.London); err == nil {
				// Midday that day, or now when that is still to come today.
				in.HeldAt = time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, register.London).UTC()
				if now := s.now().UTC(); in.HeldAt.After(now) && d.Format(time.DateOnly) == now.In(register.London).Format(time.DateOnly) {
					in.HeldAt = now
				}
			}
			in.Chair, in.Notes = f.text("chair"), f.text("notes")
			if strings.TrimSpace(in.Chair) == "" {
				f.fail("chair", "required")
			}
			// Recommendations become actions on the ladder, as the API's
			// recommendations do; the workflow's paths name the form's rows.
			var rows []int
			in.Actions, rows = readActions(f, "actions", len(g.Rows))
			paths = rowPath("actions", rows)
		default:
			if in.Reason = f.text("reason"); strings.TrimSpace(in.Reason) == "" {
				f.fail("reason", "required")
			}
		}
		s.submit(w, r, change{"cetr", cetrTitles[op], page}, f, p.ID,
			update{name, workflows.CETRRequest{Actor: s.actor(r), CETR: in}, paths}, "/people/"+p.ID+"?done=cetr-"+op+"#cetrs")
	}
}

// cetrPage is a C(E)TR form's data: on the record-as-held form, the
// recommendation rows and the named professionals' emails as a hint.
func cetrPage(p register.Person, c register.CETR, op string, g growingRows) changePage {
	page := changePage{P: p, CETR: c, Op: op}
	if op == "record" {
		page.Grow = g
		for _, pr := range p.Professionals {
			page.Emails = append(page.Emails, pr.Email)
		}
	}
	return page
}

// cetrPath maps the workflow's paths onto the form's fields.
func cetrPath(path string) string { return path }

func keyworkerSpecs() []spec {
	return []spec{{Name: "name", Label: "Keyworker's name"}, {Name: "email", Label: "Keyworker's email address"},
		{Name: "referred_on", Label: "Date of the keyworker referral", Kind: dateField}}
}

func (s *server) keyworkerForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	f := newForm(keyworkerSpecs(), nil)
	f.Values.Set("name", p.Keyworker.Name)
	f.Values.Set("email", p.Keyworker.Email)
	if d, err := time.ParseInLocation(time.DateOnly, p.Keyworker.ReferredOn, register.London); err == nil {
		f.setDate("referred_on", d)
	}
	s.showChange(w, r, http.StatusOK, "keyworker", "Keyworker", f, changePage{P: p})
}

func (s *server) keyworkerPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return
	}
	f := newForm(keyworkerSpecs(), r.PostForm)
	k := register.Keyworker{Name: f.text("name"), Email: strings.ToLower(f.get("email")), ReferredOn: f.date("referred_on")}
	if !k.Named() && f.ok() {
		f.fail("name", "Enter the keyworker's name or the date of the referral")
	}
	s.submit(w, r, change{"keyworker", "Keyworker", changePage{P: p}}, f, p.ID,
		update{workflows.UpdateKeyworker, workflows.KeyworkerRequest{Actor: s.actor(r), Keyworker: k}, nil}, "/people/"+p.ID+"?done=keyworker#keyworker")
}

// cetrStatusName is how the record shows a C(E)TR's status.
func cetrStatusName(c register.CETR) string {
	switch c.Status {
	case register.CETRDueStatus:
		return "Due"
	case register.CETRBooked:
		return "Booked"
	case register.CETRHeld:
		return "Held"
	}
	return "Cancelled"
}

// cetrKindName is "Community CETR", "Post-admission CTR", "LAEP meeting".
func cetrKindName(c register.CETR) string {
	switch c.Kind {
	case register.CETRLAEP:
		return "LAEP meeting"
	case register.CETRCommunity:
		return "Community " + c.Name
	case register.CETRPostAdmission:
		return "Post-admission " + c.Name
	case register.CETRInterim:
		return "Interim " + c.Name + " review"
	}
	return "Inpatient " + c.Name
}

// monthlyReturn is the monthly return's link (the one its mail carries,
// with no query): the reports page for that calendar month.
func (s *server) monthlyReturn(w http.ResponseWriter, r *http.Request) {
	m, err := time.ParseInLocation("2006-01", chi.URLParam(r, "month"), register.London)
	if err != nil {
		s.renderError(w, r, register.NotFound("return"))
		return
	}
	last := m.AddDate(0, 1, -1)
	q := url.Values{"period": {"custom"},
		"from-day": {"1"}, "from-month": {strconv.Itoa(int(m.Month()))}, "from-year": {strconv.Itoa(m.Year())},
		"to-day": {strconv.Itoa(last.Day())}, "to-month": {strconv.Itoa(int(last.Month()))}, "to-year": {strconv.Itoa(last.Year())}}
	seeOther(w, r, "/reports?"+q.Encode()+"#cetr")
}

// consentSpecs are the fields of consent renewed, or withdrawn.
func consentSpecs(withdraw bool) []spec {
	if withdraw {
		return []spec{{Name: "reason", Label: "Why consent is withdrawn", Required: "Enter why consent is withdrawn"}}
	}
	return []spec{{Name: "basis", Label: "Basis of consent", Kind: radioField, Required: "Choose the basis of consent"},
		{Name: "details", Label: "About consent"}}
}

var consentTitles = map[bool]string{false: "Record consent renewed", true: "Record consent withdrawn"}

func (s *server) consentForm(withdraw bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.activePerson(w, r)
		if !ok {
			return
		}
		s.showChange(w, r, http.StatusOK, "consent", consentTitles[withdraw], newForm(consentSpecs(withdraw), nil), changePage{P: p, Op: withdrawOp(withdraw)})
	}
}

func withdrawOp(withdraw bool) string {
	if withdraw {
		return "withdraw"
	}
	return "renew"
}

func (s *server) consentPost(withdraw bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.activePerson(w, r)
		if !ok {
			return
		}
		f := newForm(consentSpecs(withdraw), r.PostForm)
		a := s.actor(r)
		in := register.ConsentInput{Withdraw: withdraw, RecordedOn: s.now().In(register.London).Format(time.DateOnly), RecordedBy: a.Email}
		next := "/people/" + p.ID + "?done=consent"
		if withdraw {
			if in.Details = f.text("reason"); strings.TrimSpace(in.Details) == "" {
				f.fail("reason", "required")
			}
			next = "/people/" + p.ID + "?done=withdrawn"
		} else {
			in.Basis, in.Details = register.ConsentBasis(f.get("basis")), f.text("details")
			if in.Basis == "" {
				f.fail("basis", "required")
			}
		}
		s.submit(w, r, change{"consent", consentTitles[withdraw], changePage{P: p, Op: withdrawOp(withdraw)}}, f, p.ID,
			update{workflows.UpdateConsent, workflows.ConsentRequest{Actor: a, Consent: in}, nil}, next)
	}
}

func rootCauseSpecs() []spec {
	return []spec{{Name: "outcome", Label: "Outcome of the root-cause review", Required: "Enter the outcome of the root-cause review"}}
}

// admitted reads the active record a form is about and the admission the
// form is for, found by which (which shows the error when there is none).
func (s *server) admitted(w http.ResponseWriter, r *http.Request,
	which func(http.ResponseWriter, *http.Request, register.Person) (register.Admission, bool)) (register.Person, register.Admission, bool) {
	p, ok := s.activePerson(w, r)
	if !ok {
		return p, register.Admission{}, false
	}
	a, ok := which(w, r, p)
	return p, a, ok
}

// flaggedAdmission is the record's admission waiting for its root-cause
// outcome, the latest first.
func (s *server) flaggedAdmission(w http.ResponseWriter, r *http.Request, p register.Person) (register.Admission, bool) {
	for i := len(p.Admissions) - 1; i >= 0; i-- {
		if p.Admissions[i].RootCauseNeeded() {
			return p.Admissions[i], true
		}
	}
	s.renderError(w, r, register.NotFound("admission waiting for a root-cause review"))
	return register.Admission{}, false
}

func (s *server) rootCauseForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.admitted(w, r, s.flaggedAdmission)
	if !ok {
		return
	}
	s.showChange(w, r, http.StatusOK, "rootcause", "Root-cause review", newForm(rootCauseSpecs(), nil), changePage{P: p, Admission: a})
}

func (s *server) rootCausePost(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.admitted(w, r, s.flaggedAdmission)
	if !ok {
		return
	}
	f := newForm(rootCauseSpecs(), r.PostForm)
	outcome := f.text("outcome")
	if strings.TrimSpace(outcome) == "" {
		f.fail("outcome", "required")
	}
	req := workflows.RootCauseRequest{Actor: s.actor(r), RootCause: register.RootCauseInput{AdmittedAt: a.AdmittedAt, Outcome: outcome}}
	s.submit(w, r, change{"rootcause", "Root-cause review", changePage{P: p, Admission: a}}, f, p.ID,
		update{workflows.UpdateRootCause, req, nil}, "/people/"+p.ID+"?done=root-cause#cetrs")
}

// inpatientNews are the choices of the inpatient news form, in its order:
// each is one piece of news, sent as the API's POST /people/{id}/inpatient
// would send it.
var inpatientNews = []struct{ Value, Label, Hint string }{
	{"secure", "The admission is now to a secure setting", "Inpatient C(E)TRs then repeat at the secure interval."},
	{"not-secure", "The admission is no longer secure", "Inpatient C(E)TRs then repeat at the non-secure interval."},
	{register.EventHospitalMove, "Moved to another hospital", "A new C(E)TR is due."},
	{register.EventDiagnosisRemoved, "A diagnosis of learning disability or autism was removed", "A new C(E)TR is due."},
}

// inpatientInput is the workflow's input for one of inpatientNews.
func inpatientInput(news string) (register.InpatientInput, bool) {
	yes, no := true, false
	switch news {
	case "secure":
		return register.InpatientInput{Secure: &yes}, true
	case "not-secure":
		return register.InpatientInput{Secure: &no}, true
	case register.EventHospitalMove, register.EventDiagnosisRemoved:
		return register.InpatientInput{Event: news}, true
	}
	return register.InpatientInput{}, false
}

func inpatientSpecs() []spec {
	return []spec{{Name: "news", Label: "What has happened", Kind: radioField, Required: "Choose what has happened"}}
}

// currentAdmission is the record's admission not yet left: inpatient news
// is about a person in hospital (blue) only.
func (s *server) currentAdmission(w http.ResponseWriter, r *http.Request, p register.Person) (register.Admission, bool) {
	if p.Rating == register.Blue {
		for i := len(p.Admissions) - 1; i >= 0; i-- {
			if p.Admissions[i].LeftAt == nil {
				return p.Admissions[i], true
			}
		}
	}
	s.renderError(w, r, &register.Error{Kind: register.KindConflict, Message: "The person is not in hospital (blue), so there is no inpatient news to record."})
	return register.Admission{}, false
}

func (s *server) inpatientForm(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.admitted(w, r, s.currentAdmission)
	if !ok {
		return
	}
	s.showChange(w, r, http.StatusOK, "inpatient", "Inpatient news", newForm(inpatientSpecs(), nil), changePage{P: p, Admission: a})
}

func (s *server) inpatientPost(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.admitted(w, r, s.currentAdmission)
	if !ok {
		return
	}
	f := newForm(inpatientSpecs(), r.PostForm)
	in, known := inpatientInput(f.get("news"))
	if !known {
		f.fail("news", "required")
	}
	// The workflow names secure and event; both are the form's one choice.
	news := func(string) string { return "news" }
	s.submit(w, r, change{"inpatient", "Inpatient news", changePage{P: p, Admission: a}}, f, p.ID,
		update{workflows.UpdateInpatient, workflows.InpatientRequest{Actor: s.actor(r), Inpatient: in}, news}, "/people/"+p.ID+"?done=inpatient#cetrs")
}
