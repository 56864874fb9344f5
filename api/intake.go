package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
)

// Self-referrals are limited per client address (IPv6 by /64), over the
// JSON endpoint and the web form together: a person or family refers once,
// so ten in an hour from one address is a script. Every request whose
// content is checked counts, refused ones included, so the endpoint cannot
// be used to try NHS numbers or dates at speed (see selfReferralLimiter).
const (
	SelfReferralLimit  = 10
	SelfReferralWindow = time.Hour
)

// SelfReferralPath is the public endpoint: no token.
const SelfReferralPath = "/api/v1/self-referrals"

// HoneypotField is the self-referral form's trap: a field people never see
// (hidden by the form's style) and bots fill in. A request with it filled
// is answered exactly as an accepted one, and nothing is stored, so a bot
// learns nothing.
const HoneypotField = "website"

// selfReferralReceived is the one answer to every self-referral that is
// not refused for its content: accepted, a duplicate and a trapped bot alike
// get it, so the endpoint never tells a stranger whether someone is on the
// register (no id, no 409).
var selfReferralReceived = map[string]string{
	"status":  "received",
	"message": "Thank you. The referral has been received; the register's coordinator will look at it and contact you.",
}

// intakeRoutes adds the authenticated intake routes (under /api/v1).
func intakeRoutes(r chi.Router, p *people) {
	r.With(requireRole("coordinator")).Get("/people.csv", p.exportCSV)
}

// publicRoutes adds the routes that need no token; they are mounted on the
// root router, outside authenticate.
func (s *server) publicRoutes(r chi.Router) {
	h := &selfReferrals{
		referrals: &starter.Referrals{Store: s.deps.Store, Temporal: s.deps.Temporal, Logger: s.log, Localities: s.deps.Config.Localities},
		store:     s.deps.Store,
		now:       time.Now,
	}
	limit := s.selfLimit.middleware(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too many referrals from this address; please try again later"})
	})
	r.With(requireJSON, limit).Post(SelfReferralPath, h.post)
}

// exportCSV streams the register as CSV (register.CSVWriter's columns, the
// import's), one row per person (their latest episode), audited as an
// export of each record before the first byte is sent.
func (p *people) exportCSV(w http.ResponseWriter, r *http.Request) {
	var cw *register.CSVWriter
	rc := http.NewResponseController(w)
	n := 0
	err := p.store.ExportPeople(r.Context(), actorFrom(r), "people.csv", func(profs int) error {
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="dsr-register-`+p.now().In(register.London).Format(time.DateOnly)+`.csv"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		var err error
		cw, err = register.NewCSVWriter(w, max(profs, 3))
		return err
	}, func(person register.Person) error {
		if err := cw.Write(person); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			if err := cw.Flush(); err != nil {
				return err
			}
			_ = rc.Flush()
		}
		return nil
	})
	if err == nil && cw != nil {
		err = cw.Flush()
	}
	if err == nil {
		return
	}
	if cw == nil {
		writeError(w, r, err) // nothing sent yet
		return
	}
	// Half a file has gone: end the connection without the closing chunk so
	// the client sees a failed download, never a short register.
	loggerFrom(r).ErrorContext(r.Context(), "export failed part way", "error", err, "rows", n)
	panic(http.ErrAbortHandler)
}

// selfReferrals takes referrals from people without an account.
type selfReferrals struct {
	referrals *starter.Referrals
	store     *store.Store
	now       func() time.Time
}

// post takes a self-referral: the referral body of POST /api/v1/referrals,
// whose referrer is the person or a family member (referrer.name, .relationship
// and an email or phone to answer them are required), plus the honeypot.
// It lands as a referral flagged self_referral for the coordinator to
// triage, and answers 202 without an id.
func (h *selfReferrals) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, trapped := takeHoneypot(body)
	if trapped {
		loggerFrom(r).InfoContext(r.Context(), "self-referral honeypot filled: nothing stored")
		writeJSON(w, http.StatusAccepted, selfReferralReceived)
		return
	}
	req, err := register.DecodeReferral(bytes.NewReader(body))
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := h.now()
	fields := map[string]string{}
	if e := register.ValidateReferral(req, now, h.referrals.Localities); e != nil {
		fields = e.Fields
	}
	ref := req.Referrer
	if strings.TrimSpace(ref.Name) == "" {
		fields["referrer.name"] = "is required: who is making the referral"
	}
	if strings.TrimSpace(ref.Relationship) == "" {
		fields["referrer.relationship"] = "is required: how you know the person (yourself, parent, sibling, friend…)"
	}
	if strings.TrimSpace(ref.Email) == "" && strings.TrimSpace(ref.Phone) == "" {
		fields["referrer.email"] = "an email address or a phone number is required, so the coordinator can answer you"
	}
	if len(fields) > 0 {
		writeError(w, r, register.Invalid(fields))
		return
	}
	actor := register.Actor{Role: "anonymous", ClientAddr: clientAddr(r)}
	_, err = h.referrals.Submit(r.Context(), req, actor, now, starter.Options{SelfReferral: true})
	var e *register.Error
	if errors.As(err, &e) && e.Kind == register.KindConflict {
		// Already referred or on the register: say nothing of it to a
		// stranger. Submit has audited the attempt against the record and
		// told the coordinators (referral-duplicate).
		err = nil
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, selfReferralReceived)
}

// takeHoneypot removes the honeypot field from a JSON object body and
// reports whether it held anything. A body that is not a JSON object is
// returned as it is, for DecodeReferral to refuse properly.
func takeHoneypot(body []byte) ([]byte, bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return body, false
	}
	raw, ok := top[HoneypotField]
	if !ok {
		return body, false
	}
	delete(top, HoneypotField)
	var s string
	filled := true
	if string(raw) == "null" {
		filled = false
	} else if err := json.Unmarshal(raw, &s); err == nil {
		filled = strings.TrimSpace(s) != ""
	}
	out, err := json.Marshal(top)
	if err != nil {
		return body, filled
	}
	return out, filled
}
