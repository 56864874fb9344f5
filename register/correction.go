package register

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ChangeCorrection corrects a person's details: names, date of birth,
// address, NHS number, consent record.
const ChangeCorrection ChangeKind = "correction"

// CorrectableFields are the details a coordinator may correct, by the names
// the API and the history use.
var CorrectableFields = []string{
	"given_name", "family_name", "date_of_birth", "nhs_number", "address", "postcode", "locality",
	"consent.basis", "consent.recorded_on", "consent.recorded_by", "consent.details",
}

// Details are a person's correctable details.
type Details struct {
	GivenName   string  `json:"given_name"`
	FamilyName  string  `json:"family_name"`
	DateOfBirth string  `json:"date_of_birth"`
	NHSNumber   string  `json:"nhs_number"`
	Address     string  `json:"address"`
	Postcode    string  `json:"postcode"`
	Locality    string  `json:"locality"`
	Consent     Consent `json:"consent"`
}

// DetailsOf returns the correctable details of a record.
func DetailsOf(p Person) Details {
	return Details{GivenName: p.GivenName, FamilyName: p.FamilyName, DateOfBirth: p.DateOfBirth, NHSNumber: p.NHSNumber,
		Address: p.Address, Postcode: p.Postcode, Locality: p.Locality, Consent: p.Consent}
}

// field returns a pointer to the named detail, nil for an unknown name.
func (d *Details) field(name string) *string {
	switch name {
	case "given_name":
		return &d.GivenName
	case "family_name":
		return &d.FamilyName
	case "date_of_birth":
		return &d.DateOfBirth
	case "nhs_number":
		return &d.NHSNumber
	case "address":
		return &d.Address
	case "postcode":
		return &d.Postcode
	case "locality":
		return &d.Locality
	case "consent.basis":
		return (*string)(&d.Consent.Basis)
	case "consent.recorded_on":
		return &d.Consent.RecordedOn
	case "consent.recorded_by":
		return &d.Consent.RecordedBy
	case "consent.details":
		return &d.Consent.Details
	}
	return nil
}

// Value returns the named detail ("" for an unknown name).
func (d Details) Value(name string) string {
	if p := d.field(name); p != nil {
		return *p
	}
	return ""
}

// Set sets the named detail; it reports false for an unknown name.
func (d *Details) Set(name, value string) bool {
	p := d.field(name)
	if p == nil {
		return false
	}
	*p = value
	return true
}

// Correction is a correction of a person's details: the details as they
// are to be (the whole set, so the rules that tie fields together can be
// checked), which of them change, and why.
type Correction struct {
	Details Details  `json:"details"`
	Fields  []string `json:"fields"`
	Reason  string   `json:"reason"`
}

// Normalised returns the details as the register stores them: the NHS
// number as ten digits, the postcode in its usual form. Values that do not
// normalise are left as given, for validation to report.
func (d Details) Normalised() Details {
	r := d.referral().Normalised()
	d.NHSNumber, d.Postcode = r.Person.NHSNumber, r.Person.Postcode
	return d
}

// referral is the details as a referral, with a rating and a professional
// that pass, so the referral's rules can check the details alone.
func (d Details) referral() ReferralRequest {
	return ReferralRequest{
		Person: ReferralPerson{GivenName: d.GivenName, FamilyName: d.FamilyName, DateOfBirth: d.DateOfBirth,
			NHSNumber: d.NHSNumber, Address: d.Address, Postcode: d.Postcode, Locality: d.Locality},
		Consent:       d.Consent,
		ProposedRAG:   Red,
		Professionals: []Professional{{Name: "x", Email: "x@example.org"}},
	}
}

// Changed lists the fields whose values differ between before and after,
// in the order of CorrectableFields.
func Changed(before, after Details) []string {
	var out []string
	for _, f := range CorrectableFields {
		if before.Value(f) != after.Value(f) {
			out = append(out, f)
		}
	}
	return out
}

// ValidateCorrection checks a correction by the referral's rules (the same
// messages, the same limits, the rules that tie fields together, such as
// parental responsibility only under 18), with field paths as the
// correction names them (given_name, consent.basis). A reason is required,
// and at least one known field must change. A locality must be on the
// area's list (areas; empty means the default list).
func ValidateCorrection(c Correction, now time.Time, areas Localities) *Error {
	fields := map[string]string{}
	if e := ValidateReferral(c.Details.referral(), now, areas); e != nil {
		for k, v := range e.Fields {
			switch {
			case strings.HasPrefix(k, "person."):
				fields[strings.TrimPrefix(k, "person.")] = v
			case strings.HasPrefix(k, "consent."):
				fields[k] = v
			}
		}
	}
	if len(c.Fields) == 0 {
		fields["fields"] = "no detail is changed"
	}
	seen := map[string]bool{}
	for i, f := range c.Fields {
		switch {
		case !slices.Contains(CorrectableFields, f):
			fields[fmt.Sprintf("fields[%d]", i)] = "not a detail that can be corrected: one of " + strings.Join(CorrectableFields, ", ")
		case seen[f]:
			fields[fmt.Sprintf("fields[%d]", i)] = "given twice"
		}
		seen[f] = true
	}
	v := &validator{fields: fields}
	if strings.TrimSpace(c.Reason) == "" {
		v.fail("reason", "is required: say why the details are corrected")
	} else {
		v.text("reason", c.Reason, MaxTextLen)
	}
	if len(fields) == 0 {
		return nil
	}
	return Invalid(fields)
}
