package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

//go:embed templates
var templateFiles embed.FS

// pages holds one template set per page, each with the layout and partials.
type pages struct {
	sets map[string]*template.Template
}

func mustParsePages() *pages {
	p, err := parsePages()
	if err != nil {
		panic(err)
	}
	return p
}

func parsePages() (*pages, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", n, err)
		}
		p.sets[base] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title      string
	User       *store.User
	Nav        string // the current navigation item
	CSRFField  string
	CSRFToken  string
	HasMail    bool
	HasReports bool
	Banner     string // a success message from the last change
	Form       *form
	Page       any // the page's own data
	RequestID  string
}

// newView fills in what the layout needs for this request.
func (s *server) newView(r *http.Request, title, nav string, page any) *view {
	v := &view{Title: title, Nav: nav, Page: page, HasMail: s.d.Mailbox != nil, HasReports: s.d.Reports != nil,
		CSRFField: s.mw.CSRFField, RequestID: middleware.GetReqID(r.Context())}
	if s.mw.CSRFToken != nil {
		v.CSRFToken = s.mw.CSRFToken(r)
	}
	if u, ok := s.user(r); ok {
		v.User = &u
	}
	return v
}

// render writes a page. It renders into a buffer first, so a template
// failure becomes a clean 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := s.pages.sets[name]
	if !ok {
		s.log.ErrorContext(r.Context(), "no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "error", err)
		http.Error(w, "internal error; the request id is in the X-Request-Id header", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages hold personal data: never cached, by the browser or between.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Heading string
	Message string
	Retry   bool
}

// renderError shows an error as a page with the status the API would give:
// the message of a *register.Error is safe to show; anything else is logged
// and shown as a generic failure with the request id.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	if u, ok := store.Unreachable(err); ok {
		s.log.WarnContext(r.Context(), "database unavailable", "error", err)
		err = u
	}
	var e *register.Error
	status, page := http.StatusInternalServerError, errorPage{Heading: "Sorry, there is a problem with the service",
		Message: "Try again later. If it keeps happening, give the request id below to the register's support team."}
	if errors.As(err, &e) {
		switch e.Kind {
		case register.KindNotFound:
			status, page = http.StatusNotFound, errorPage{Heading: "Page not found",
				Message: "There is no such page, or you do not have access to it. If you typed the web address, check it is correct."}
		case register.KindForbidden:
			status, page = http.StatusForbidden, errorPage{Heading: "You cannot use this page", Message: e.Message}
		case register.KindUnavailable:
			status, page = http.StatusServiceUnavailable, errorPage{Heading: "Sorry, the register is busy", Message: e.Message, Retry: true}
			w.Header().Set("Retry-After", "5")
		case register.KindConflict, register.KindInvalid, register.KindMalformed:
			status, page = http.StatusConflict, errorPage{Heading: "This could not be done", Message: e.Message}
		default:
			s.log.ErrorContext(r.Context(), "internal error", "error", err)
		}
	} else {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			status, page = http.StatusRequestEntityTooLarge, errorPage{Heading: "That was too much to send", Message: "The form was larger than the register accepts. Shorten the text and try again."}
		} else {
			s.log.ErrorContext(r.Context(), "internal error", "error", err)
		}
	}
	s.render(w, r, status, "error", s.newView(r, page.Heading, "", page))
}

// seeOther redirects after a successful POST, so a reload does not send
// the form again.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

var funcs = template.FuncMap{
	"static":        staticURL,
	"nhs":           register.FormatNHS,
	"date":          showDate,
	"datetime":      showDateTime,
	"dob":           showDOB,
	"ratingName":    ratingName,
	"ratingClass":   ratingClass,
	"ratingMeans":   ratingMeaning,
	"statusName":    statusName,
	"consentName":   consentName,
	"noticeName":    noticeName,
	"needName":      needName,
	"roleName":      roleName,
	"field":         fieldOf,
	"dict":          dict,
	"list":          func(xs ...string) []string { return xs },
	"checked":       checked,
	"selected":      selected,
	"lines":         lines,
	"plural":        plural,
	"ratings":       func() []register.Rating { return register.Ratings },
	"needs":         func() []string { return register.Needs },
	"add":           func(a, b int) int { return a + b },
	"deref":         func(t *time.Time) time.Time { return derefTime(t) },
	"hasTime":       func(t *time.Time) bool { return t != nil && !t.IsZero() },
	"lower":         strings.ToLower,
	"join":          func(s []string) string { return strings.Join(s, ", ") },
	"num":           func(n *int) int { return *n },
	"actionStatus":  actionStatusName,
	"consentBases":  func() []register.ConsentBasis { return consentBases },
	"fieldName":     correctionFieldName,
	"cetrStatus":    cetrStatusName,
	"cetrKind":      cetrKindName,
	"inpatientNews": func() any { return inpatientNews },
	"deref2":        func(b *bool) bool { return b != nil && *b },
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// lines splits text at line breaks, for showing free text as paragraphs.
func lines(s string) []string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func showDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(register.London).Format("2 Jan 2006")
}

func showDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(register.London).Format("2 Jan 2006, 15:04")
}

// showDOB shows a YYYY-MM-DD date of birth as "1 April 1990".
func showDOB(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return t.Format("2 January 2006")
}

func ratingName(r register.Rating) string {
	switch r {
	case register.Red:
		return "Red"
	case register.Amber:
		return "Amber"
	case register.Green:
		return "Green"
	case register.Blue:
		return "Blue"
	}
	return "Not rated"
}

// ratingClass is the NHS tag colour of a rating.
func ratingClass(r register.Rating) string {
	switch r {
	case register.Red:
		return "nhsuk-tag--red"
	case register.Amber:
		return "nhsuk-tag--orange"
	case register.Green:
		return "nhsuk-tag--green"
	case register.Blue:
		return "nhsuk-tag--blue"
	}
	return "nhsuk-tag--grey"
}

// ratingMeaning is DOMAIN.md's meaning of each rating, as the forms explain it.
func ratingMeaning(r register.Rating) string {
	switch r {
	case register.Red:
		return "Immediate risk of admission: the person or family is in crisis and needs are not met in the community."
	case register.Amber:
		return "High risk of admission if help does not come quickly."
	case register.Green:
		return "Some risk, currently well managed."
	case register.Blue:
		return "Currently an inpatient in a mental health or specialist hospital."
	}
	return ""
}

func statusName(s register.Status) string {
	switch s {
	case register.Referred:
		return "Referred, waiting for a decision"
	case register.Active:
		return "On the register"
	case register.Discharged:
		return "Discharged from the register"
	case register.Declined:
		return "Referral declined"
	}
	return string(s)
}

func consentName(b register.ConsentBasis) string {
	switch b {
	case register.InformedConsent:
		return "Informed consent (the person has capacity)"
	case register.BestInterestDecision:
		return "Best-interest decision (the person lacks capacity)"
	case register.ParentalResponsibility:
		return "Consent by a person with parental responsibility (under 18)"
	}
	return string(b)
}

func noticeName(k register.NoticeKind, level int) string {
	names := map[register.NoticeKind]string{
		register.ReferralReceived: "Referral received, to coordinators",
		register.TriageOverdue:    "Decision on the referral overdue, to coordinators",
		register.ReferralDeclined: "Referral declined, to the referrer",
		register.ReviewDue:        "Review due reminder",
		register.ReviewOverdue:    "Review overdue",
		register.ReviewEscalated:  "Review escalated to managers",
		register.ActionDue:        "Action due reminder, to its owner",
		register.ActionOverdue:    "Action overdue, to its owner",
		register.ActionEscalated:  "Action escalated to the owner's manager",
		register.RatingChanged:    "Rating changed",
		register.DeliveryFailed:   "An email could not be delivered, to coordinators",
		register.Digest:           "Weekly digest",
		register.CETRDueNotice:    "C(E)TR due reminder",
		register.CETROverdue:      "C(E)TR overdue",
		register.CETREscalated:    "C(E)TR escalated to the C(E)TR lead",
		register.KeyworkerNeeded:  "Keyworker needed, to coordinators",
		register.TransitionDue:    "Turning 18, to coordinators",
		register.ConsentReviewDue: "Consent review due, to coordinators",
	}
	n, ok := names[k]
	if !ok {
		n = string(k)
	}
	if (k == register.ReviewEscalated || k == register.ActionEscalated || k == register.CETREscalated) && level > 0 {
		n += fmt.Sprintf(" (%d)", level)
	}
	return n
}

var needNames = map[string]string{
	"respite": "Respite", "intensive_support": "Intensive support", "housing": "Housing",
	"education_placement": "Education placement", "crisis_support": "Crisis support", "keyworker": "Keyworker",
	"psychiatry": "Psychiatry", "speech_and_language": "Speech and language therapy",
	"positive_behaviour_support": "Positive behaviour support", "occupational_therapy": "Occupational therapy",
	"day_opportunities": "Day opportunities", "care_package": "Care package", "other": "Other",
}

func needName(n string) string {
	if s, ok := needNames[n]; ok {
		return s
	}
	return n
}

func roleName(role string) string {
	switch role {
	case store.RoleCoordinator:
		return "Coordinator"
	case store.RoleProfessional:
		return "Professional"
	case store.RoleManager:
		return "Manager"
	case store.RoleCommissioner:
		return "Commissioner"
	case store.RoleAuditor:
		return "Auditor"
	}
	return role
}

func actionStatusName(s register.ActionStatus) string {
	switch s {
	case register.ActionOpen:
		return "Open"
	case register.ActionDone:
		return "Done"
	case register.ActionCancelled:
		return "Cancelled"
	}
	return string(s)
}
