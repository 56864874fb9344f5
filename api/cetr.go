package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// cetrRoutes are the C(E)TR, keyworker, consent, inpatient and root-cause
// routes under /people/{id} (issue 12). Booking and recording a C(E)TR is
// for everyone who may record a review; the rest is the coordinators'.
func (p *people) cetrRoutes(r chi.Router) {
	r.Post("/cetrs", p.newCETR)
	r.Post("/cetrs/{cetr_id}/book", p.cetr(workflows.UpdateBookCETR))
	r.Post("/cetrs/{cetr_id}/record", p.cetr(workflows.UpdateRecordCETR))
	r.With(requireRole("coordinator")).Post("/cetrs/{cetr_id}/cancel", p.cetr(workflows.UpdateCancelCETR))
	r.With(requireRole("coordinator")).Put("/keyworker", p.keyworker)
	r.With(requireRole("coordinator")).Post("/consent", p.consent(false))
	r.With(requireRole("coordinator")).Post("/consent/withdraw", p.consent(true))
	r.With(requireRole("coordinator")).Post("/inpatient", p.inpatient)
	r.With(requireRole("coordinator")).Post("/root-cause", p.rootCause)
}

// cetrIDPattern is a C(E)TR id the clock makes (kind-time) or a uuid.
var cetrIDPattern = regexp.MustCompile(`^(community|laep|post-admission|interim|inpatient)-\d{8}T\d{6}Z$`)

func validCETRID(id string) bool {
	if cetrIDPattern.MatchString(id) {
		return true
	}
	_, err := uuid.Parse(id)
	return err == nil
}

type cetrBody struct {
	Kind            register.CETRKind `json:"kind"`
	BookedFor       string            `json:"booked_for"`
	HeldAt          string            `json:"held_at"`
	Chair           string            `json:"chair"`
	Notes           string            `json:"notes"`
	Reason          string            `json:"reason"`
	Recommendations []actionBody      `json:"recommendations"`
}

// input reads the body's times (RFC 3339, or a date: 17:00 UK time) and
// recommendations into a C(E)TR input.
func (b cetrBody) input(k *idempotent, id string, fields map[string]string) register.CETRInput {
	in := register.CETRInput{ID: id, Kind: b.Kind, Chair: b.Chair, Notes: b.Notes, Reason: b.Reason}
	for name, v := range map[string]struct {
		raw string
		to  *time.Time
	}{"booked_for": {b.BookedFor, &in.BookedFor}, "held_at": {b.HeldAt, &in.HeldAt}} {
		if v.raw == "" {
			continue
		}
		t, ok := dueTime(v.raw)
		if !ok {
			fields[name] = "must be an RFC 3339 time or a date YYYY-MM-DD"
		}
		*v.to = t
	}
	for i, a := range b.Recommendations {
		in.Actions = append(in.Actions, a.toAction(k, fields, fmt.Sprintf("recommendations[%d].", i)))
	}
	return in
}

// newCETR books or records a C(E)TR the clock did not plan (an LAEP
// meeting, a review called early): held when held_at is given, else booked.
func (p *people) newCETR(w http.ResponseWriter, r *http.Request) {
	var body cetrBody
	id, k, ok := p.visibleKeyed(w, r, "new-cetr", &body)
	if !ok {
		return
	}
	fields := map[string]string{}
	if !body.Kind.Valid() {
		fields["kind"] = "must be one of community, laep, post-admission, interim, inpatient"
	}
	in := body.input(k, k.newID(), fields)
	if len(fields) > 0 {
		writeError(w, r, register.Invalid(fields))
		return
	}
	name := workflows.UpdateBookCETR
	if !in.HeldAt.IsZero() {
		name = workflows.UpdateRecordCETR
	}
	res, err := p.send(r, k, id, name, &workflows.CETRRequest{Actor: actorFrom(r), CETR: in})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": in.ID, "status": res.Status})
}

func (p *people) cetr(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body cetrBody
		id, k, ok := p.visibleKeyed(w, r, name, &body)
		if !ok {
			return
		}
		cetrID := chi.URLParam(r, "cetr_id")
		if !validCETRID(cetrID) {
			writeError(w, r, register.NotFound("C(E)TR"))
			return
		}
		fields := map[string]string{}
		in := body.input(k, cetrID, fields)
		if len(fields) > 0 {
			writeError(w, r, register.Invalid(fields))
			return
		}
		p.change(w, r, k, id, name, &workflows.CETRRequest{Actor: actorFrom(r), CETR: in}, http.StatusOK)
	}
}

func (p *people) keyworker(w http.ResponseWriter, r *http.Request) {
	var body register.Keyworker
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateKeyworker, &body)
	if !ok {
		return
	}
	body.Email = strings.ToLower(strings.TrimSpace(body.Email))
	p.change(w, r, k, id, workflows.UpdateKeyworker, &workflows.KeyworkerRequest{Actor: actorFrom(r), Keyworker: body}, http.StatusOK)
}

func (p *people) consent(withdraw bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Basis      register.ConsentBasis `json:"basis"`
			RecordedOn string                `json:"recorded_on"`
			Details    string                `json:"details"`
			Reason     string                `json:"reason"`
		}
		id, k, ok := p.visibleKeyed(w, r, workflows.UpdateConsent, &body)
		if !ok {
			return
		}
		a := actorFrom(r)
		in := register.ConsentInput{Withdraw: withdraw, Basis: body.Basis, RecordedOn: body.RecordedOn, RecordedBy: a.Email, Details: body.Details}
		if withdraw {
			in.Details = body.Reason
		}
		if in.RecordedOn == "" {
			in.RecordedOn = p.now().In(register.London).Format("2006-01-02")
		}
		p.change(w, r, k, id, workflows.UpdateConsent, &workflows.ConsentRequest{Actor: a, Consent: in}, http.StatusOK)
	}
}

func (p *people) inpatient(w http.ResponseWriter, r *http.Request) {
	var body register.InpatientInput
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateInpatient, &body)
	if !ok {
		return
	}
	p.change(w, r, k, id, workflows.UpdateInpatient, &workflows.InpatientRequest{Actor: actorFrom(r), Inpatient: body}, http.StatusOK)
}

func (p *people) rootCause(w http.ResponseWriter, r *http.Request) {
	var body register.RootCauseInput
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateRootCause, &body)
	if !ok {
		return
	}
	p.change(w, r, k, id, workflows.UpdateRootCause, &workflows.RootCauseRequest{Actor: actorFrom(r), RootCause: body}, http.StatusOK)
}
