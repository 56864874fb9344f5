package api

import (
	"net/http"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// export answers GET /people/{id}/export: everything held about the person,
// across all their episodes, for a subject access request. The export is
// audited in the same transaction that reads it.
func (p *people) export(w http.ResponseWriter, r *http.Request) {
	id, ok := p.visible(w, r)
	if !ok {
		return
	}
	sa, err := p.store.SubjectAccessExport(r.Context(), actorFrom(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="subject-access-`+id+`.json"`)
	writeJSON(w, http.StatusOK, sa)
}

// correctionConsent is the consent part of a correction's body.
type correctionConsent struct {
	Basis      *string `json:"basis"`
	RecordedOn *string `json:"recorded_on"`
	RecordedBy *string `json:"recorded_by"`
	Details    *string `json:"details"`
}

// correctionBody is PATCH /people/{id}: the details to correct (absent
// means unchanged) and why.
type correctionBody struct {
	GivenName   *string            `json:"given_name"`
	FamilyName  *string            `json:"family_name"`
	DateOfBirth *string            `json:"date_of_birth"`
	NHSNumber   *string            `json:"nhs_number"`
	Address     *string            `json:"address"`
	Postcode    *string            `json:"postcode"`
	Locality    *string            `json:"locality"`
	Consent     *correctionConsent `json:"consent"`
	Reason      string             `json:"reason"`
}

func (b correctionBody) values() map[string]*string {
	m := map[string]*string{
		"given_name": b.GivenName, "family_name": b.FamilyName, "date_of_birth": b.DateOfBirth, "nhs_number": b.NHSNumber,
		"address": b.Address, "postcode": b.Postcode, "locality": b.Locality,
	}
	if c := b.Consent; c != nil {
		m["consent.basis"], m["consent.recorded_on"], m["consent.recorded_by"], m["consent.details"] = c.Basis, c.RecordedOn, c.RecordedBy, c.Details
	}
	return m
}

// correct answers PATCH /people/{id}: a coordinator corrects the person's
// details, with a reason, through the person's workflow. The fields whose
// values change (after normalising, as a referral is) are written, their
// previous values kept; an NHS number another open record holds is 409.
func (p *people) correct(w http.ResponseWriter, r *http.Request) {
	var body correctionBody
	id, k, ok := p.visibleKeyed(w, r, workflows.UpdateCorrectDetails, &body)
	if !ok {
		return
	}
	current, err := p.store.GetPerson(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	before := register.DetailsOf(current)
	after := before
	for f, v := range body.values() {
		if v != nil {
			after.Set(f, *v)
		}
	}
	after = after.Normalised()
	req := workflows.CorrectRequest{Actor: actorFrom(r), Correction: register.Correction{
		Details: after, Fields: register.Changed(before, after), Reason: body.Reason}}
	if err := workflows.CheckNHSClash(r.Context(), id, req.Correction, p.store.OpenPersonByNHS); err != nil {
		writeError(w, r, err)
		return
	}
	res, err := p.send(r, k, id, workflows.UpdateCorrectDetails, &req)
	if err = workflows.SettleCorrection(r.Context(), id, req.Correction, p.store.OpenPersonByNHS, err); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
