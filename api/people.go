package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// people serves the register's JSON API.
type people struct {
	store     *store.Store
	temporal  client.Client
	referrals *starter.Referrals
	now       func() time.Time
	// timing is the area's clocks, for what a record shows computed
	// (keyworker eligibility, consent needed, C(E)TR overdue).
	timing   register.Timing
	riskTool register.RiskTool
}

func (p *people) routes(r chi.Router) {
	r.With(requireRole("coordinator", "professional", "manager")).Post("/referrals", p.postReferral)
	r.With(requireRole("coordinator", "professional", "manager")).Get("/people", p.list)
	r.Route("/people/{id}", func(r chi.Router) {
		r.Use(requireRole("coordinator", "professional", "manager"))
		r.Get("/", p.get)
		r.With(requireRole("coordinator")).Patch("/", p.correct)
		r.With(requireRole("coordinator")).Get("/export", p.export)
		r.With(requireRole("coordinator")).Post("/triage", p.triage)
		r.Post("/reviews", p.review)
		r.Put("/rag", p.rating)
		r.Post("/actions", p.addAction)
		r.Post("/actions/{action_id}/complete", p.closeAction(false))
		r.With(requireRole("coordinator")).Post("/actions/{action_id}/cancel", p.closeAction(true))
		r.With(requireRole("coordinator")).Put("/professionals", p.professionals)
		r.With(requireRole("coordinator")).Post("/discharge", p.discharge)
		p.cetrRoutes(r)
	})
}

// decode reads a JSON body strictly: unknown fields are refused by name.
func decode(r *http.Request, v any) error { return decodeJSON(r.Body, v) }

func decodeJSON(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return err
		case errors.As(err, &typeErr):
			return register.Invalidf(typeErr.Field, "must be a %s", typeErr.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return register.Invalidf(name, "unknown field")
		}
		var perr *time.ParseError
		if errors.As(err, &perr) {
			return register.Invalidf("time", "not an RFC 3339 time")
		}
		return &register.Error{Kind: register.KindMalformed, Message: "the body is not valid JSON"}
	}
	if dec.More() {
		return &register.Error{Kind: register.KindMalformed, Message: "the body must hold one JSON value"}
	}
	return nil
}

func (p *people) postReferral(w http.ResponseWriter, r *http.Request) {
	req, err := register.DecodeReferral(r.Body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id, err := p.referrals.Submit(r.Context(), req, actorFrom(r), p.now(), starter.Options{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "status": string(register.Referred)})
}

// visible finds the person and checks the user may see them: 404 both when
// there is no such person and when the user has no part in the record, so
// that guessing ids reveals nothing. Refusals are audited.
func (p *people) visible(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		writeError(w, r, register.NotFound("person"))
		return "", false
	}
	a := actorFrom(r)
	ok, err := p.store.CanSee(r.Context(), a, id)
	if err != nil {
		writeError(w, r, err)
		return "", false
	}
	if !ok {
		if a.Role != "coordinator" {
			_ = p.store.Audit(r.Context(), a, "refused", id, nil, r.Method+" "+routePattern(r))
		}
		writeError(w, r, register.NotFound("person"))
		return "", false
	}
	return id, true
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return r.URL.Path
}

func (p *people) get(w http.ResponseWriter, r *http.Request) {
	id, ok := p.visible(w, r)
	if !ok {
		return
	}
	person, err := p.store.ReadPerson(r.Context(), actorFrom(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p.timing.Annotate(&person, p.now())
	writeJSON(w, http.StatusOK, person)
}

func (p *people) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.ListFilter{Rating: register.Rating(q.Get("rag")), Status: register.Status(q.Get("status")),
		Locality: q.Get("locality"), Cursor: q.Get("cursor"), Now: p.now()}
	fields := map[string]string{}
	if f.Rating != "" && !f.Rating.Valid() {
		fields["rag"] = "must be one of red, amber, green, blue"
	}
	if f.Status != "" && !f.Status.Valid() {
		fields["status"] = "must be one of referred, active, discharged, declined"
	}
	switch q.Get("overdue") {
	case "", "false":
	case "true":
		f.Overdue = true
	default:
		fields["overdue"] = "must be true or false"
	}
	for name, to := range map[string]*bool{"cetr_overdue": &f.CETROverdue, "no_keyworker": &f.NoKeyworker} {
		switch q.Get(name) {
		case "", "false":
		case "true":
			*to = true
		default:
			fields[name] = "must be true or false"
		}
	}
	f.KeyworkerMaxAge, f.KeyworkerRatings = p.timing.CETR.KeyworkerMaxAge, p.timing.CETR.KeyworkerRatings
	f.Limit = parseLimit(q.Get("limit"), 500, fields)
	if len(fields) > 0 {
		writeError(w, r, register.Invalid(fields))
		return
	}
	list, next, err := p.store.ListPeopleAudited(r.Context(), actorFrom(r), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if list == nil {
		list = []store.PersonSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"people": list, "next": next})
}

// change sends an update to the person's workflow and answers with the
// result: a refusal by the validator is 422, a workflow that does not answer
// in time 503. A client's Idempotency-Key makes a retried request the same
// update, and one already written gets the first answer.
func (p *people) change(w http.ResponseWriter, r *http.Request, k *idempotent, id, name string, req keyedRequest, status int) {
	res, err := p.send(r, k, id, name, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, status, res)
}

// visibleKeyed is visible, then the request's Idempotency-Key, then the
// JSON body decoded into v (when not nil).
func (p *people) visibleKeyed(w http.ResponseWriter, r *http.Request, op string, v any) (string, *idempotent, bool) {
	id, ok := p.visible(w, r)
	if !ok {
		return "", nil, false
	}
	k, err := p.idempotency(r, id, op)
	if err == nil && v != nil {
		err = decode(r, v)
	}
	if err != nil {
		writeError(w, r, err)
		return "", nil, false
	}
	return id, k, true
}

func (p *people) triage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Decision string          `json:"decision"`
		Rating   register.Rating `json:"rag"`
		Reason   string          `json:"reason"`
	}
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateTriage, &body)
	if !ok {
		return
	}
	p.change(w, r, k, id, workflows.UpdateTriage, &workflows.TriageRequest{Actor: actorFrom(r), Decision: body.Decision, Rating: body.Rating, Reason: body.Reason}, http.StatusOK)
}

// parseLimit reads a page size from 1 to max; empty means the default (0).
func parseLimit(v string, max int, fields map[string]string) int {
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		fields["limit"] = fmt.Sprintf("must be a whole number from 1 to %d", max)
	}
	return n
}

// dueTime reads an action's due: an RFC 3339 time, or a date meaning 17:00
// UK time that day.
func dueTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	if d, err := time.ParseInLocation("2006-01-02", s, register.London); err == nil {
		return time.Date(d.Year(), d.Month(), d.Day(), 17, 0, 0, 0, register.London).UTC(), true
	}
	return time.Time{}, false
}

type actionBody struct {
	Description string `json:"description"`
	OwnerEmail  string `json:"owner_email"`
	Due         string `json:"due"`
}

func (b actionBody) toAction(k *idempotent, fields map[string]string, prefix string) register.NewAction {
	a := register.NewAction{ID: k.newID(), Description: b.Description, OwnerEmail: strings.ToLower(strings.TrimSpace(b.OwnerEmail))}
	if b.Due == "" {
		fields[prefix+"due"] = "required"
	} else if t, ok := dueTime(b.Due); ok {
		a.Due = t
	} else {
		fields[prefix+"due"] = "must be an RFC 3339 time or a date YYYY-MM-DD"
	}
	return a
}

func (p *people) review(w http.ResponseWriter, r *http.Request) {
	var body struct {
		HeldAt        string          `json:"held_at"`
		Rating        register.Rating `json:"rag"`
		CurrentIssues string          `json:"current_issues"`
		Tried         string          `json:"tried"`
		CouldHelp     string          `json:"could_help"`
		Notes         string          `json:"notes"`
		Needs         []string        `json:"needs"`
		Actions       []actionBody    `json:"actions"`
		// Risk answers the area's risk tool: the questions answered yes,
		// and why the rating differs from its suggestion when it does.
		Risk *struct {
			Yes    []string `json:"yes"`
			Reason string   `json:"reason"`
		} `json:"risk"`
	}
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateRecordReview, &body)
	if !ok {
		return
	}
	fields := map[string]string{}
	in := register.ReviewInput{ID: k.newID(), Rating: body.Rating, CurrentIssues: body.CurrentIssues,
		Tried: body.Tried, CouldHelp: body.CouldHelp, Notes: body.Notes, Needs: body.Needs}
	if body.HeldAt != "" {
		t, err := time.Parse(time.RFC3339, body.HeldAt)
		if err != nil {
			fields["held_at"] = "must be an RFC 3339 time"
		}
		in.HeldAt = t.UTC()
	}
	if !body.Rating.Valid() {
		fields["rag"] = "must be one of red, amber, green, blue"
	}
	for i, a := range body.Actions {
		in.Actions = append(in.Actions, a.toAction(k, fields, fmt.Sprintf("actions[%d].", i)))
	}
	if body.Risk != nil {
		a := p.riskTool.Answer(body.Risk.Yes, body.Risk.Reason)
		p.riskTool.CheckRisk(fields, a, body.Rating)
		in.Risk = &a
	}
	if len(fields) > 0 {
		writeError(w, r, register.Invalid(fields))
		return
	}
	p.change(w, r, k, id, workflows.UpdateRecordReview, &workflows.ReviewRequest{Actor: actorFrom(r), Review: in}, http.StatusCreated)
}

func (p *people) rating(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Rating register.Rating `json:"rag"`
		Reason string          `json:"reason"`
	}
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateChangeRating, &body)
	if !ok {
		return
	}
	p.change(w, r, k, id, workflows.UpdateChangeRating, &workflows.RatingRequest{Actor: actorFrom(r), Rating: body.Rating, Reason: body.Reason}, http.StatusOK)
}

func (p *people) addAction(w http.ResponseWriter, r *http.Request) {
	var body actionBody
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateAddActions, &body)
	if !ok {
		return
	}
	fields := map[string]string{}
	a := body.toAction(k, fields, "")
	if len(fields) > 0 {
		writeError(w, r, register.Invalid(fields))
		return
	}
	_, err := p.send(r, k, id, workflows.UpdateAddActions, &workflows.ActionsRequest{Actor: actorFrom(r), Actions: []register.NewAction{a}})
	if err != nil {
		// Field paths from the workflow name the list; this route takes one.
		var de *register.Error
		if errors.As(err, &de) && de.Fields != nil {
			for k, v := range de.Fields {
				if rest, ok := strings.CutPrefix(k, "actions[0]."); ok {
					delete(de.Fields, k)
					de.Fields[rest] = v
				}
			}
		}
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": a.ID, "status": register.ActionOpen, "due": a.Due})
}

func (p *people) closeAction(cancel bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, k, ok := p.visibleKeyed(w, r, workflows.UpdateCloseAction, nil)
		if !ok {
			return
		}
		actionID := chi.URLParam(r, "action_id")
		if _, err := uuid.Parse(actionID); err != nil {
			writeError(w, r, register.NotFound("action"))
			return
		}
		owner, err := p.store.ActionOwner(r.Context(), id, actionID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		a := actorFrom(r)
		if a.Role != "coordinator" && !strings.EqualFold(owner, a.Email) {
			_ = p.store.Audit(r.Context(), a, "refused", id, []string{"actions"}, "complete action: not the owner")
			writeError(w, r, register.Forbidden("only the action's owner or a coordinator may complete it"))
			return
		}
		var body struct {
			Outcome string `json:"outcome"`
			Reason  string `json:"reason"`
		}
		if err := decode(r, &body); err != nil {
			writeError(w, r, err)
			return
		}
		text := body.Outcome
		if cancel {
			text = body.Reason
		}
		p.change(w, r, k, id, workflows.UpdateCloseAction, &workflows.CloseActionRequest{Actor: a, ActionID: actionID, Outcome: text, Cancel: cancel}, http.StatusOK)
	}
}

func (p *people) professionals(w http.ResponseWriter, r *http.Request) {
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateProfessionals, nil)
	if !ok {
		return
	}
	var body struct {
		Professionals []register.Professional `json:"professionals"`
	}
	// Accept the list itself as well as an object holding it.
	raw := json.RawMessage{}
	if err := decode(r, &raw); err != nil {
		writeError(w, r, err)
		return
	}
	var err error
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		err = strictUnmarshal(raw, &body.Professionals)
	} else {
		err = strictUnmarshal(raw, &body)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	for i := range body.Professionals {
		body.Professionals[i].Email = strings.ToLower(strings.TrimSpace(body.Professionals[i].Email))
		body.Professionals[i].ManagerEmail = strings.ToLower(strings.TrimSpace(body.Professionals[i].ManagerEmail))
	}
	p.change(w, r, k, id, workflows.UpdateProfessionals, &workflows.ProfessionalsRequest{Actor: actorFrom(r), Professionals: body.Professionals}, http.StatusOK)
}

func strictUnmarshal(raw []byte, v any) error { return decodeJSON(bytes.NewReader(raw), v) }

func (p *people) discharge(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateDischarge, &body)
	if !ok {
		return
	}
	p.change(w, r, k, id, workflows.UpdateDischarge, &workflows.DischargeRequest{Actor: actorFrom(r), Reason: body.Reason}, http.StatusOK)
}
