package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	netmail "net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	_ "time/tzdata" // Europe/London must resolve on any machine
)

// NoticeData is everything a notice may say. It holds no identifying data
// by design (DOMAIN.md: email is not a secure channel): no name, NHS number,
// date of birth, address, and no free text such as action descriptions or
// decline reasons, which may quote any of those. The reader follows Link,
// which needs sign-in, for the details.
type NoticeData struct {
	Kind     string // one of Kinds
	PersonID string // opaque id; empty for the digest
	// Link is the record, DSR_BASE_URL/people/{id} (see PersonLink), or for
	// the digest a page of the register such as RegisterLink. It may have no
	// user, query or fragment, which could carry anything.
	Link string
	// DueAt is when the review or action is (or was) due, or for
	// referral-received and triage-overdue when triage is due. Shown in UK
	// time. For rag-changed, the next review's due time if known.
	DueAt time.Time
	// Level is the escalation's number (1 for the first) and MaxLevel how
	// many there are at most (0 means 3).
	Level, MaxLevel int
	// FromRating and ToRating are red, amber, green or blue (rag-changed;
	// FromRating may be empty for a first rating).
	FromRating, ToRating string
	// ManagerMissing says an escalation went to the coordinators because the
	// manager of the person it should reach is not known.
	ManagerMissing bool
	// Digest holds the digest's counts.
	Digest DigestCounts
	// FailedKind and Refused describe delivery-failed: the kind of the
	// notice that could not be delivered, and the staff addresses a mail
	// server refused for good (bare addresses only).
	FailedKind string
	Refused    []string
	// CETRKind is the kind of C(E)TR a cetr-* notice is about (one of
	// CETRKinds), and Child whether the person is under 18 on its due day.
	CETRKind string
	Child    bool
	// Month is the monthly return's month, YYYY-MM.
	Month string
	// MeetingID is the meeting a meeting-* notice is about (its Link is
	// MeetingLink), Count how many people or actions it concerns, and
	// Links (meeting-actions) the records of the owner's new actions.
	MeetingID string
	Count     int
	Links     []string
}

// CETRKinds are the kinds a cetr-* notice may name.
var CETRKinds = map[string]string{
	"community": "community %s", "laep": "LAEP meeting", "post-admission": "post-admission %s",
	"interim": "interim %s", "inpatient": "inpatient %s",
}

var monthPattern = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])$`)

// DigestCounts are the digest's numbers, over the people the recipient can
// see.
type DigestCounts struct {
	ReviewsDue, ReviewsOverdue, ReviewsEscalated int
	ActionsDue, ActionsOverdue, ActionsEscalated int
}

// Kinds lists every kind Render knows: CONTRACT.md's X-DSR-Kind values and
// the digest.
var Kinds = []string{
	"referral-received", "triage-overdue", "referral-declined",
	"review-due", "review-overdue", "review-escalated",
	"action-due", "action-overdue", "action-escalated",
	"rag-changed", "delivery-failed", "digest", "referral-duplicate",
	"cetr-due", "cetr-overdue", "cetr-escalated", "keyworker-needed", "transition-due", "consent-review-due",
	"monthly-return",
	"meeting-agenda", "meeting-cancelled", "meeting-actions", "carried-again",
}

// meetingKinds are about a DSR meeting, not a person: their link is the
// meeting's page (see MeetingLink).
var meetingKinds = []string{"meeting-agenda", "meeting-cancelled", "meeting-actions"}

//go:embed templates/*.tmpl
var templateFS embed.FS

// One template set per kind (each kind's file defines "subject", "text" and
// "html"), parsed once at start and never changed.
var (
	textTemplates = map[string]*texttemplate.Template{}
	htmlTemplates = map[string]*htmltemplate.Template{}
)

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

func init() {
	for _, k := range Kinds {
		file := "templates/" + k + ".tmpl"
		textTemplates[k] = texttemplate.Must(texttemplate.New(k).ParseFS(templateFS, "templates/layout.tmpl", file))
		htmlTemplates[k] = htmltemplate.Must(htmltemplate.New(k).ParseFS(templateFS, "templates/layout.tmpl", file))
	}
}

// PersonLink is the record's URL for emails.
func PersonLink(baseURL, personID string) string {
	return strings.TrimRight(baseURL, "/") + "/people/" + url.PathEscape(personID)
}

// MeetingLink is a meeting's page, for the agenda and action mails.
func MeetingLink(baseURL, meetingID string) string {
	return strings.TrimRight(baseURL, "/") + "/meetings/" + url.PathEscape(meetingID)
}

// RegisterLink is the register's URL, for the digest.
func RegisterLink(baseURL string) string { return strings.TrimRight(baseURL, "/") + "/people" }

// view is what the templates see: NoticeData plus what is worked out from it.
type view struct {
	NoticeData
	Due        string // "Monday 7 December 2026 at 17:00"
	DueDay     string // "Monday 7 December 2026"
	From, To   string // "Amber"
	ToMeaning  string
	Subject    string // for the HTML title
	Escalation string // "escalation 2 of 3"
	// CETRTitle is "community CETR", "post-admission CTR", ...
	CETRTitle string
	// Digest totals over reviews and actions.
	DueSoon, Overdue, Escalated int
}

var (
	personIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	datePattern     = regexp.MustCompile(`^\d{1,4}[-._]\d{1,2}[-._]\d{1,4}$`)
)

var ratingMeaning = map[string]string{
	"red":   "an immediate risk of admission; needs are not being met in the community",
	"amber": "a high risk of admission if help does not come quickly",
	"green": "some risk, currently well managed",
	"blue":  "currently in hospital; reviews now plan for discharge",
}

// Render makes a notice's subject, plain text and HTML. It refuses data that
// does not fit the kind, and anything in the free-form fields that is not
// one of the expected values, so personal data cannot slip through them.
func Render(kind string, d NoticeData) (subject, text, html string, err error) {
	tt, ok := textTemplates[kind]
	if !ok {
		return "", "", "", fmt.Errorf("mail: render: unknown kind %q", kind)
	}
	d.Kind = kind
	v, err := newView(d)
	if err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", kind, err)
	}
	var b bytes.Buffer
	if err := tt.ExecuteTemplate(&b, "subject", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	v.Subject = subject
	b.Reset()
	if err := tt.ExecuteTemplate(&b, "text", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	text = tidyText(b.String())
	b.Reset()
	if err := htmlTemplates[kind].ExecuteTemplate(&b, "html", v); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	return subject, text, b.String(), nil
}

func newView(d NoticeData) (view, error) {
	v := view{NoticeData: d}
	if d.Link == "" {
		return v, errors.New("no link")
	}
	// The link is checked too: a query or a stray path could carry anything.
	u, err := url.Parse(d.Link)
	if err != nil || strings.ContainsAny(d.Link, "@ \t\r\n") || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return v, errors.New("link is not a plain http(s) URL without user, query or fragment")
	}
	if d.Kind == "monthly-return" {
		if d.PersonID != "" {
			return v, errors.New("a monthly return is about no one person")
		}
		if !monthPattern.MatchString(d.Month) {
			return v, errors.New("month is not YYYY-MM")
		}
		return v, nil
	}
	if slices.Contains(meetingKinds, d.Kind) {
		return meetingView(v, u.Path)
	}
	if d.Kind == "digest" {
		if d.PersonID != "" {
			return v, errors.New("a digest is about no one person")
		}
		c := d.Digest
		for _, n := range []int{c.ReviewsDue, c.ReviewsOverdue, c.ReviewsEscalated, c.ActionsDue, c.ActionsOverdue, c.ActionsEscalated} {
			if n < 0 {
				return v, errors.New("negative count")
			}
		}
		v.DueSoon, v.Overdue, v.Escalated = c.ReviewsDue+c.ActionsDue, c.ReviewsOverdue+c.ActionsOverdue, c.ReviewsEscalated+c.ActionsEscalated
		return v, nil
	}
	if !personIDPattern.MatchString(d.PersonID) {
		return v, fmt.Errorf("person id must be an opaque id (letters, digits, '.', '_', '-'), got %d characters", len(d.PersonID))
	}
	if looksLikeNHSNumber(d.PersonID) || datePattern.MatchString(d.PersonID) {
		return v, errors.New("person id looks like an NHS number or a date, not an opaque id")
	}
	if !strings.HasSuffix(u.Path, "/people/"+d.PersonID) {
		return v, errors.New("link is not the person's record (see PersonLink)")
	}
	if !d.DueAt.IsZero() {
		t := d.DueAt.In(london)
		v.DueDay = t.Format("Monday 2 January 2006")
		v.Due = v.DueDay + " at " + t.Format("15:04")
	}
	switch d.Kind {
	case "review-due", "review-overdue", "review-escalated", "action-due", "action-overdue", "action-escalated",
		"cetr-due", "cetr-overdue", "cetr-escalated", "transition-due", "consent-review-due":
		if d.DueAt.IsZero() {
			return v, errors.New("no due time")
		}
	}
	if strings.HasPrefix(d.Kind, "cetr-") {
		f, ok := CETRKinds[d.CETRKind]
		if !ok {
			return v, fmt.Errorf("C(E)TR kind %q is not one of the kinds", d.CETRKind)
		}
		name := "CTR"
		if d.Child {
			name = "CETR"
		}
		v.CETRTitle = f
		if strings.Contains(f, "%s") {
			v.CETRTitle = fmt.Sprintf(f, name)
		}
	}
	if strings.HasSuffix(d.Kind, "-escalated") {
		if v.MaxLevel == 0 {
			v.MaxLevel = 3
		}
		if d.Level < 1 || d.Level > v.MaxLevel {
			return v, fmt.Errorf("escalation level %d not in 1..%d", d.Level, v.MaxLevel)
		}
		v.Escalation = fmt.Sprintf("escalation %d of %d", d.Level, v.MaxLevel)
	}
	if d.Kind == "delivery-failed" {
		if !slices.Contains(Kinds, d.FailedKind) || d.FailedKind == "delivery-failed" {
			return v, fmt.Errorf("failed kind %q is not a notice kind", d.FailedKind)
		}
		if len(d.Refused) == 0 {
			return v, errors.New("no refused address")
		}
		for _, a := range d.Refused {
			if p, err := netmail.ParseAddress(a); err != nil || p.Name != "" || p.Address != a {
				return v, errors.New("a refused address is not a bare email address")
			}
		}
	}
	if d.Kind == "rag-changed" {
		if _, ok := ratingMeaning[d.ToRating]; !ok {
			return v, fmt.Errorf("new rating %q is not red, amber, green or blue", d.ToRating)
		}
		if _, ok := ratingMeaning[d.FromRating]; !ok && d.FromRating != "" {
			return v, fmt.Errorf("old rating %q is not red, amber, green or blue", d.FromRating)
		}
		v.From, v.To, v.ToMeaning = title(d.FromRating), title(d.ToRating), ratingMeaning[d.ToRating]
	}
	return v, nil
}

func meetingView(v view, path string) (view, error) {
	d := v.NoticeData
	if d.PersonID != "" {
		return v, errors.New("a meeting notice is about no one person")
	}
	if !personIDPattern.MatchString(d.MeetingID) || !strings.HasSuffix(path, "/meetings/"+d.MeetingID) {
		return v, errors.New("link is not the meeting's page (see MeetingLink)")
	}
	if d.DueAt.IsZero() {
		return v, errors.New("no meeting time")
	}
	if d.Count < 0 {
		return v, errors.New("negative count")
	}
	t := d.DueAt.In(london)
	v.DueDay = t.Format("Monday 2 January 2006")
	v.Due = v.DueDay + " at " + t.Format("15:04")
	if d.Kind == "meeting-actions" {
		if len(d.Links) == 0 || len(d.Links) != d.Count {
			return v, errors.New("one record link per new action")
		}
		for _, l := range d.Links {
			lu, err := url.Parse(l)
			if err != nil || lu.Host == "" || lu.User != nil || lu.RawQuery != "" || lu.Fragment != "" ||
				!strings.Contains(lu.Path, "/people/") || !personIDPattern.MatchString(lu.Path[strings.LastIndex(lu.Path, "/")+1:]) {
				return v, errors.New("an action link is not a record link (see PersonLink)")
			}
		}
	}
	return v, nil
}

// looksLikeNHSNumber catches a caller passing an NHS number as the id.
func looksLikeNHSNumber(s string) bool {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i, r := range s {
		if r < '0' || r > '9' {
			return false
		}
		if i < 9 {
			sum += int(r-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(s[9]-'0')
}

func title(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// tidyText trims each line's trailing spaces, collapses runs of blank lines
// left by template actions, and ends with one newline.
func tidyText(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := make([]string, 0, len(lines))
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}
