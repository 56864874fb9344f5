package register

import (
	"reflect"
	"testing"
	"time"
)

func goodDetails() Details {
	return Details{GivenName: "Alex", FamilyName: "Smith", DateOfBirth: "1990-04-01", NHSNumber: "9434765919",
		Address: "1 High Street", Postcode: "SN1 1AA", Locality: "Swindon",
		Consent: Consent{Basis: InformedConsent, RecordedOn: "2026-01-02", RecordedBy: "Sam Worker"}}
}

func TestValidateCorrection(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	with := func(f func(*Details)) Details { d := goodDetails(); f(&d); return d }
	for _, tc := range []struct {
		name string
		c    Correction
		want map[string]string // nil: accepted; otherwise the fields at fault
	}{
		{"a name", Correction{Details: with(func(d *Details) { d.GivenName = "Alexandra" }), Fields: []string{"given_name"}, Reason: "typo"}, nil},
		{"NHS number with spaces", Correction{Details: with(func(d *Details) { d.NHSNumber = "943 476 5919" }), Fields: []string{"nhs_number"}, Reason: "typo"}, nil},
		{"no reason", Correction{Details: goodDetails(), Fields: []string{"given_name"}, Reason: "  "}, map[string]string{"reason": ""}},
		{"nothing changed", Correction{Details: goodDetails(), Reason: "x"}, map[string]string{"fields": ""}},
		{"unknown field", Correction{Details: goodDetails(), Fields: []string{"rag"}, Reason: "x"}, map[string]string{"fields[0]": ""}},
		{"field twice", Correction{Details: goodDetails(), Fields: []string{"address", "address"}, Reason: "x"}, map[string]string{"fields[1]": ""}},
		{"bad check digit", Correction{Details: with(func(d *Details) { d.NHSNumber = "9434765918" }), Fields: []string{"nhs_number"}, Reason: "x"}, map[string]string{"nhs_number": ""}},
		{"empty family name", Correction{Details: with(func(d *Details) { d.FamilyName = "" }), Fields: []string{"family_name"}, Reason: "x"}, map[string]string{"family_name": ""}},
		{"future birth", Correction{Details: with(func(d *Details) { d.DateOfBirth = "2027-01-01" }), Fields: []string{"date_of_birth"}, Reason: "x"}, map[string]string{"date_of_birth": ""}},
		{"bad postcode", Correction{Details: with(func(d *Details) { d.Postcode = "nowhere" }), Fields: []string{"postcode"}, Reason: "x"}, map[string]string{"postcode": ""}},
		// Cross-field: a corrected date of birth makes parental
		// responsibility wrong, though the basis itself is unchanged.
		{"adult under parental responsibility", Correction{Details: with(func(d *Details) {
			d.Consent.Basis = ParentalResponsibility
			d.DateOfBirth = "1990-01-01"
		}), Fields: []string{"date_of_birth"}, Reason: "x"}, map[string]string{"consent.basis": ""}},
		{"consent before birth", Correction{Details: with(func(d *Details) { d.DateOfBirth = "2026-03-01" }), Fields: []string{"date_of_birth"}, Reason: "x"}, map[string]string{"consent.recorded_on": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ValidateCorrection(tc.c, now, nil)
			if tc.want == nil {
				if e != nil {
					t.Fatalf("refused: %v", e.Fields)
				}
				return
			}
			if e == nil || e.Kind != KindInvalid {
				t.Fatalf("accepted, want %v", tc.want)
			}
			got := map[string]string{}
			for k := range e.Fields {
				got[k] = ""
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fields %v, want %v", e.Fields, tc.want)
			}
		})
	}
}

func TestDetailsChangedAndNormalised(t *testing.T) {
	before := goodDetails()
	after := before
	after.FamilyName = "Smyth"
	after.NHSNumber = "943-476-5919"
	after.Postcode = "sn11aa"
	after.Consent.Details = "revisited"
	after = after.Normalised()
	if after.NHSNumber != "9434765919" || after.Postcode != "SN1 1AA" {
		t.Errorf("normalised: %+v", after)
	}
	if got, want := Changed(before, after), []string{"family_name", "consent.details"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
	var d Details
	if d.Set("rag", "red") || d.Value("rag") != "" {
		t.Error("an unknown field was set")
	}
}
