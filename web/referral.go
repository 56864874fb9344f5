package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
)

// referralRows is how many professionals the referral form offers at
// first; a signed-in referrer can add more, up to the register's limit.
// The public form stays at that: each showing of it is a request to a
// rate-limited endpoint, and the coordinator can name more later.
const referralRows = 3

// selfRows are the public form's rows, which do not grow.
func selfRows() growingRows { return newRows(referralRows, referralRows) }

type referralPage struct {
	Self         bool
	Action       string
	Grow         growingRows
	Localities   []string
	Honeypot     string
	Duplicate    string // the existing record, when the user may see it
	EmailHint    string
	InformedText string
	ParentalText string
}

func referralSpecs(self bool, rows int) []spec {
	specs := []spec{
		{Name: "person.given_name", Label: "First name", Required: "Enter the person's first name"},
		{Name: "person.family_name", Label: "Last name", Required: "Enter the person's last name"},
		{Name: "person.date_of_birth", Label: "Date of birth", Kind: dateField, Required: "Enter the person's date of birth"},
		{Name: "person.nhs_number", Label: "NHS number", Required: "Enter the person's NHS number"},
		{Name: "person.address", Label: "Where the person lives"},
		{Name: "person.postcode", Label: "Postcode"},
		{Name: "person.locality", Label: "Area"},
		{Name: "referrer.name", Label: "Your name"},
		{Name: "referrer.relationship", Label: "How you know the person", Required: "Say how you know the person"},
		{Name: "referrer.organisation", Label: "Your organisation"},
		{Name: "referrer.email", Label: "Your email address"},
		{Name: "referrer.phone", Label: "Your phone number"},
		{Name: "consent.capacity", Label: "whether the person has capacity to consent", Kind: radioField,
			Required: "Select whether the person has the capacity to consent to being on the register"},
		{Name: "consent.informed", Label: "Informed consent", Kind: checkField, Required: "Confirm that the person has given their informed consent"},
		{Name: "consent.best_interest", Label: "Best-interest decision", Kind: checkField, Required: "Confirm that a best-interest decision has been made and recorded"},
		{Name: "consent.parental", Label: "Parental consent", Kind: checkField, Required: "Confirm that a person with parental responsibility has given consent"},
		{Name: "consent.recorded_on", Label: "The date consent was given", Kind: dateField, Required: "Enter the date consent was given or the decision recorded"},
		{Name: "consent.recorded_by", Label: "Who recorded consent", Required: "Enter who recorded the consent or decision"},
		{Name: "consent.details", Label: "Anything else about consent"},
		{Name: "proposed_rag", Label: "a rating", Kind: radioField, Required: "Select a proposed rating"},
		{Name: "current_issues", Label: "What is happening now"},
		{Name: "tried", Label: "What has been tried"},
		{Name: "could_help", Label: "What could help"},
		{Name: "professionals", Label: "Professionals", Required: "Name at least one professional, with an email address"},
	}
	if self {
		specs[0].Required = "Enter the first name of the person you are referring"
		specs[12].Required = "Select whether the person can decide for themselves about being on the register"
		specs[19].Required = "Select how urgent it is"
	}
	for i := range rows {
		p := fmt.Sprintf("professionals[%d].", i)
		n := fmt.Sprintf("Professional %d's ", i+1)
		specs = append(specs,
			spec{Name: p + "name", Label: n + "name", Required: "Enter professional " + fmt.Sprint(i+1) + "'s name"},
			spec{Name: p + "role", Label: n + "role"},
			spec{Name: p + "organisation", Label: n + "organisation"},
			spec{Name: p + "email", Label: n + "email address", Required: "Enter professional " + fmt.Sprint(i+1) + "'s email address"},
			spec{Name: p + "manager_email", Label: n + "manager's email address"},
		)
	}
	return specs
}

func (s *server) referralPage(self bool, g growingRows) *referralPage {
	p := &referralPage{Self: self, Action: "/referrals/new", Localities: s.d.Config.Localities.OrDefault(), Honeypot: s.mw.HoneypotField, Grow: g}
	if self {
		p.Action = "/refer"
		p.EmailHint = "Give an email address or a phone number, or both, so the coordinator can reply"
		p.InformedText = "The person has agreed to be on the register"
		p.ParentalText = "I have, or a person with parental responsibility has, given consent"
	}
	return p
}

func (s *server) referralForm(w http.ResponseWriter, r *http.Request) {
	g := newRows(referralRows, register.MaxProfessionals)
	f := newForm(referralSpecs(false, len(g.Rows)), nil)
	if u, ok := s.user(r); ok {
		f.Values.Set("referrer.name", u.Name)
		f.Values.Set("referrer.email", u.Email)
		f.Values.Set("referrer.organisation", u.Team)
		f.Values.Set("consent.recorded_by", u.Name)
		// The referrer is usually involved: name them first, so they see
		// the record and get its reminders. They can change it.
		f.Values.Set("professionals[0].name", u.Name)
		f.Values.Set("professionals[0].email", u.Email)
		f.Values.Set("professionals[0].organisation", u.Team)
		f.Values.Set("professionals[0].manager_email", u.ManagerEmail)
	}
	f.setDate("consent.recorded_on", s.now())
	v := s.newView(r, "Refer someone to the register", "refer", s.referralPage(false, g))
	v.Form = f
	s.render(w, r, http.StatusOK, "referral", v)
}

func (s *server) selfReferralForm(w http.ResponseWriter, r *http.Request) {
	f := newForm(referralSpecs(true, referralRows), nil)
	v := s.newView(r, "Refer yourself or someone you care for", "selfrefer", s.referralPage(true, selfRows()))
	v.Form = f
	s.render(w, r, http.StatusOK, "referral", v)
}

// text is a free-text field as sent, with the browser's CRLF line ends
// made LF.
func (f *form) text(name string) string {
	return strings.ReplaceAll(f.raw(name), "\r\n", "\n")
}

// readReferral builds the referral request from the form, recording the
// problems only the form can have (a date that is not a date, a consent
// question answered without its confirmation). It returns the request and
// which form row each professional in it came from.
func readReferral(f *form, self bool, now time.Time, rowCount int) (register.ReferralRequest, []int) {
	req := register.ReferralRequest{
		Person: register.ReferralPerson{
			GivenName:   f.get("person.given_name"),
			FamilyName:  f.get("person.family_name"),
			DateOfBirth: f.date("person.date_of_birth"),
			NHSNumber:   f.get("person.nhs_number"),
			Address:     f.text("person.address"),
			Postcode:    f.get("person.postcode"),
			Locality:    f.get("person.locality"),
		},
		Referrer: register.Referrer{
			Name:         f.get("referrer.name"),
			Email:        f.get("referrer.email"),
			Organisation: f.get("referrer.organisation"),
			Phone:        f.get("referrer.phone"),
			Relationship: f.get("referrer.relationship"),
		},
		ProposedRAG:   register.Rating(f.get("proposed_rag")),
		CurrentIssues: f.text("current_issues"),
		Tried:         f.text("tried"),
		CouldHelp:     f.text("could_help"),
	}
	// The consent question, asked as the policy asks it.
	c := &req.Consent
	switch f.get("consent.capacity") {
	case "yes":
		c.Basis = register.InformedConsent
		if f.get("consent.informed") != "yes" {
			f.fail("consent.informed", "required")
		}
	case "no":
		c.Basis = register.BestInterestDecision
		if f.get("consent.best_interest") != "yes" {
			f.fail("consent.best_interest", "required")
		}
	case "under18":
		c.Basis = register.ParentalResponsibility
		if f.get("consent.parental") != "yes" {
			f.fail("consent.parental", "required")
		}
	}
	c.Details = f.text("consent.details")
	if self {
		// A person or family refers on the day, and records it themselves.
		c.RecordedOn = now.In(register.London).Format(time.DateOnly)
		c.RecordedBy = req.Referrer.Name
		if c.RecordedBy == "" {
			c.RecordedBy = "self-referral"
		}
	} else {
		c.RecordedOn = f.date("consent.recorded_on")
		c.RecordedBy = f.get("consent.recorded_by")
	}

	var rows []int
	for i := range rowCount {
		p := fmt.Sprintf("professionals[%d].", i)
		pr := register.Professional{Name: f.get(p + "name"), Role: f.get(p + "role"), Organisation: f.get(p + "organisation"),
			Email: f.get(p + "email"), ManagerEmail: f.get(p + "manager_email")}
		if pr == (register.Professional{}) {
			continue // a row left blank
		}
		req.Professionals = append(req.Professionals, pr)
		rows = append(rows, i)
	}
	return req, rows
}

// referralPaths maps the validator's paths to the form's fields.
func referralPaths(rows []int) func(string) string {
	prof := rowPath("professionals", rows)
	return func(path string) string {
		if path == "consent.basis" {
			return "consent.capacity"
		}
		return prof(path)
	}
}

// consentMessages rewords the validator's consent problems for the form's
// question.
func consentMessages(fields map[string]string) {
	if p, ok := fields["consent.basis"]; ok && strings.Contains(p, "under 18") {
		fields["consent.basis"] = "The person is 18 or over, so parental responsibility does not apply: say whether they have capacity to consent"
	}
	// The NHS number's last digit checks the others: say so plainly.
	if p, ok := fields["person.nhs_number"]; ok && p == register.ErrNHSCheckDigit.Error() {
		fields["person.nhs_number"] = "The NHS number is not right: check each digit (the last digit does not match the others)"
	}
}

func (s *server) referralPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.now()
	g, add := readRows(r.PostForm, referralRows, referralRows, register.MaxProfessionals)
	f := newForm(referralSpecs(false, len(g.Rows)), r.PostForm)
	if add {
		v := s.newView(r, "Refer someone to the register", "refer", s.referralPage(false, g))
		v.Form = f
		s.render(w, r, http.StatusOK, "referral", v)
		return
	}
	req, rows := readReferral(f, false, now, len(g.Rows))
	if e := register.ValidateReferral(req, now, s.d.Config.Localities); e != nil {
		consentMessages(e.Fields)
		f.failAll(e.Fields, referralPaths(rows))
	}
	page := s.referralPage(false, g)
	if f.ok() {
		id, err := s.d.Referrals.Submit(r.Context(), req, s.actor(r), now, starter.Options{})
		var e *register.Error
		switch {
		case err == nil:
			seeOther(w, r, "/referrals/sent/"+id)
			return
		case errors.As(err, &e) && e.Kind == register.KindInvalid:
			consentMessages(e.Fields)
			f.failAll(e.Fields, referralPaths(rows))
		case errors.As(err, &e) && e.Kind == register.KindConflict:
			// Submit gives the record's id only to someone who may see it;
			// anyone else learns only that the person is known, and the
			// coordinators are told of the attempt.
			if e.ID != "" {
				f.fail("person.nhs_number", "This person has already been referred, or is on the register")
				page.Duplicate = e.ID
			} else {
				f.fail("person.nhs_number", "This person is already known to the register. The coordinator has been told, and will contact you if needed")
			}
		default:
			s.renderError(w, r, err)
			return
		}
		f.ok()
	}
	v := s.newView(r, "Refer someone to the register", "refer", page)
	v.Form = f
	s.render(w, r, http.StatusUnprocessableEntity, "referral", v)
}

// selfReferralPost takes the public form. Like the JSON endpoint it never
// says whether someone is already on the register: a duplicate, and a bot
// that filled the trap field, see the same confirmation as a new referral.
func (s *server) selfReferralPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	if strings.TrimSpace(r.PostForm.Get(s.mw.HoneypotField)) != "" {
		s.log.InfoContext(r.Context(), "self-referral form trap filled: nothing stored")
		seeOther(w, r, "/refer/sent")
		return
	}
	now := s.now()
	f := newForm(referralSpecs(true, referralRows), r.PostForm)
	req, rows := readReferral(f, true, now, referralRows)
	fields := map[string]string{}
	if e := register.ValidateReferral(req, now, s.d.Config.Localities); e != nil {
		fields = e.Fields
	}
	if req.Referrer.Name == "" {
		fields["referrer.name"] = "required"
	}
	if req.Referrer.Relationship == "" {
		fields["referrer.relationship"] = "required"
	}
	if req.Referrer.Email == "" && req.Referrer.Phone == "" {
		fields["referrer.email"] = "Enter an email address or a phone number, so the coordinator can reply"
	}
	consentMessages(fields)
	f.failAll(fields, referralPaths(rows))
	if f.ok() {
		actor := s.actor(r)
		_, err := s.d.Referrals.Submit(r.Context(), req, actor, now, starter.Options{SelfReferral: true})
		var e *register.Error
		switch {
		case err == nil:
			seeOther(w, r, "/refer/sent")
			return
		case errors.As(err, &e) && e.Kind == register.KindConflict:
			// Submit has audited the attempt against the record and told
			// the coordinators; the stranger sees what anyone sees.
			seeOther(w, r, "/refer/sent")
			return
		case errors.As(err, &e) && e.Kind == register.KindInvalid:
			consentMessages(e.Fields)
			f.failAll(e.Fields, referralPaths(rows))
			f.ok()
		default:
			s.renderError(w, r, err)
			return
		}
	}
	v := s.newView(r, "Refer yourself or someone you care for", "selfrefer", s.referralPage(true, selfRows()))
	v.Form = f
	s.render(w, r, http.StatusUnprocessableEntity, "referral", v)
}

// sentPage is the confirmation after a referral.
type sentPage struct {
	Self        bool
	PersonID    string // when the user may open the record
	TriageDays  int
	Intervals   []interval
	ReminderFor string
	// ReminderFrom and ReminderTo are the delivery window (London time),
	// when one is set: reminders come at least ReminderFor ahead, in it.
	ReminderFrom, ReminderTo string
}

type interval struct {
	Rating register.Rating
	Every  string
}

func (s *server) sentPage(self bool) sentPage {
	t := s.d.Config.Timing
	p := sentPage{Self: self, TriageDays: int(t.TriageWithin.Hours() / 24), ReminderFor: humanDuration(t.ReminderLead)}
	if w := t.ReminderWindow; w.On() {
		p.ReminderFrom, p.ReminderTo, _ = strings.Cut(w.String(), "-")
	}
	for _, rt := range register.Ratings {
		p.Intervals = append(p.Intervals, interval{Rating: rt, Every: humanDuration(t.Interval(rt))})
	}
	return p
}

// humanDuration says a configured interval in days where it is whole days.
func humanDuration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d%(24*time.Hour) == 0 {
		return plural(int(d/(24*time.Hour)), "day", "days")
	}
	return d.String()
}

func (s *server) referralSent(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	p := s.sentPage(false)
	if _, err := uuid.Parse(id); err == nil {
		if ok, _ := s.d.Store.CanSee(r.Context(), s.actor(r), id); ok {
			p.PersonID = id
		}
	}
	s.render(w, r, http.StatusOK, "sent", s.newView(r, "Referral sent", "refer", p))
}

func (s *server) selfReferralSent(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "sent", s.newView(r, "Referral sent", "selfrefer", s.sentPage(true)))
}
