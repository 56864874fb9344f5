package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// ---- Subject access export ----

// exportPage is the printable subject access export.
type exportPage struct {
	SA    store.SubjectAccess
	Users map[string]string
}

// exportHTML shows everything held about the person, across all their
// episodes, as a page to print or save. Reading it is audited as an export,
// exactly as the JSON export is.
func (s *server) exportHTML(w http.ResponseWriter, r *http.Request) {
	sa, err := s.d.Store.SubjectAccessExport(r.Context(), s.actor(r), chi.URLParam(r, "id"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "export", s.newView(r, "Everything held about this person", "home",
		exportPage{SA: sa, Users: s.userNames(r.Context())}))
}

// ---- Corrections ----

func correctSpecs() []spec {
	return []spec{
		{Name: "given_name", Label: "Given name"},
		{Name: "family_name", Label: "Family name"},
		{Name: "date_of_birth", Label: "Date of birth", Kind: dateField},
		{Name: "nhs_number", Label: "NHS number"},
		{Name: "address", Label: "Address"},
		{Name: "postcode", Label: "Postcode"},
		{Name: "locality", Label: "Area"},
		{Name: "consent.basis", Label: "the basis of consent", Kind: radioField},
		{Name: "consent.recorded_on", Label: "When consent was recorded", Kind: dateField},
		{Name: "consent.recorded_by", Label: "Who recorded consent"},
		{Name: "consent.details", Label: "About consent"},
		{Name: "reason", Label: "Why the details are corrected", Required: "Enter why the details are corrected"},
	}
}

func (s *server) correctablePerson(w http.ResponseWriter, r *http.Request) (register.Person, bool) {
	if !s.parse(w, r) {
		return register.Person{}, false
	}
	p, ok := s.person(w, r)
	if !ok {
		return p, false
	}
	if !p.Status.Open() {
		s.renderError(w, r, &register.Error{Kind: register.KindConflict,
			Message: "This record is closed (" + strings.ToLower(statusName(p.Status)) + "), so its details cannot be corrected."})
		return p, false
	}
	return p, true
}

var consentBases = []register.ConsentBasis{register.InformedConsent, register.BestInterestDecision, register.ParentalResponsibility}

func (s *server) correctForm(w http.ResponseWriter, r *http.Request) {
	p, ok := s.correctablePerson(w, r)
	if !ok {
		return
	}
	f := newForm(correctSpecs(), nil)
	d := register.DetailsOf(p)
	for _, name := range register.CorrectableFields {
		switch name {
		case "date_of_birth", "consent.recorded_on":
			if t, err := time.Parse(time.DateOnly, d.Value(name)); err == nil {
				f.Values.Set(name+"-year", strconv.Itoa(t.Year()))
				f.Values.Set(name+"-month", strconv.Itoa(int(t.Month())))
				f.Values.Set(name+"-day", strconv.Itoa(t.Day()))
			}
		default:
			f.Values.Set(name, d.Value(name))
		}
	}
	s.showChange(w, r, http.StatusOK, "correct", "Correct the details", f, changePage{P: p})
}

func (s *server) correctPost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.correctablePerson(w, r)
	if !ok {
		return
	}
	f := newForm(correctSpecs(), r.PostForm)
	before := register.DetailsOf(p)
	after := before
	for _, name := range register.CorrectableFields {
		switch name {
		case "date_of_birth", "consent.recorded_on":
			after.Set(name, f.date(name))
		case "given_name", "family_name", "address", "consent.details", "consent.recorded_by":
			after.Set(name, f.raw(name)) // stored exactly as given
		default:
			after.Set(name, f.get(name))
		}
	}
	reason := f.raw("reason")
	if strings.TrimSpace(reason) == "" {
		f.fail("reason", "required")
	}
	after = after.Normalised()
	req := workflows.CorrectRequest{Actor: s.actor(r), Correction: register.Correction{
		Details: after, Fields: register.Changed(before, after), Reason: reason}}
	if e := register.ValidateCorrection(req.Correction, s.now(), s.d.Config.Localities); e != nil {
		for k, v := range e.Fields {
			if k == "fields" {
				f.Errors[formProblem] = "Nothing was changed: correct at least one detail."
				continue
			}
			f.fail(k, v)
		}
	}
	page := changePage{P: p}
	if !f.ok() {
		s.showChange(w, r, http.StatusUnprocessableEntity, "correct", "Correct the details", f, page)
		return
	}
	updateID := ""
	if f.Nonce != "" {
		updateID = webUpdateID(s.actor(r).UserID, p.ID, workflows.UpdateCorrectDetails, f.Nonce)
	}
	if _, err := workflows.Correct(r.Context(), s.d.Temporal, p.ID, updateID, req, s.d.Store.OpenPersonByNHS); err != nil {
		if status := f.changeFailed(err, nil); status != 0 {
			s.showChange(w, r, status, "correct", "Correct the details", f, page)
			return
		}
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, "/people/"+p.ID+"?done=corrected")
}

// correctionFieldName names a corrected field for people.
func correctionFieldName(f string) string {
	switch f {
	case "given_name":
		return "Given name"
	case "family_name":
		return "Family name"
	case "date_of_birth":
		return "Date of birth"
	case "nhs_number":
		return "NHS number"
	case "address":
		return "Address"
	case "postcode":
		return "Postcode"
	case "locality":
		return "Area"
	case "consent.basis":
		return "Consent basis"
	case "consent.recorded_on":
		return "Consent recorded on"
	case "consent.recorded_by":
		return "Consent recorded by"
	case "consent.details":
		return "About consent"
	}
	return f
}
