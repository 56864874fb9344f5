package register

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// testNow is midday on 15 June 2026 in London (BST).
var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, London)

func validReferral() ReferralRequest {
	return ReferralRequest{
		Person: ReferralPerson{
			GivenName: "Zoë", FamilyName: "O'Brien", DateOfBirth: "2001-03-04",
			NHSNumber: "943 476 5919", Address: "1 High Street\nSwindon", Postcode: "sn1 1aa", Locality: "Swindon",
		},
		Referrer: Referrer{Name: "Dr Ann Smith", Email: "Ann.Smith@nhs.example", Organisation: "CTPLD", Phone: "01793 000000"},
		Consent: Consent{Basis: InformedConsent, RecordedOn: "2026-06-01", RecordedBy: "Ann Smith",
			Details: "Discussed with Zoë and her mum."},
		ProposedRAG:   Amber,
		CurrentIssues: "Placement at risk.",
		Tried:         "Positive behaviour support plan.",
		CouldHelp:     "Respite.",
		Professionals: []Professional{{Name: "Bob Jones", Role: "Social worker", Organisation: "Swindon Borough Council",
			Email: "bob.jones@swindon.example", ManagerEmail: "manager@swindon.example"}},
	}
}

func fieldKeys(e *Error) []string {
	if e == nil {
		return nil
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestValidateReferralAcceptsValid(t *testing.T) {
	if err := ValidateReferral(validReferral(), testNow, nil); err != nil {
		t.Fatalf("valid referral refused: %v %v", err, err.Fields)
	}
}

func TestValidateReferralRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // two bytes each: limits count characters
	tests := []struct {
		name    string
		now     time.Time // zero: testNow
		edit    func(*ReferralRequest)
		fields  []string // every field expected at fault; nil: valid
		problem string   // a substring of the first field's problem
	}{
		// NHS number
		{"nhs bad check digit", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = "9434765918" }, []string{"person.nhs_number"}, "check digit"},
		{"nhs check digit would be 10", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = "4010232170" }, []string{"person.nhs_number"}, "check digit"},
		{"nhs check digit 11 means 0", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = "943-476-5870" }, nil, ""},
		{"nhs nine digits", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = "943476591" }, []string{"person.nhs_number"}, "10 digits"},
		{"nhs eleven digits", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = "94347659190" }, []string{"person.nhs_number"}, "10 digits"},
		{"nhs letters", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = "943476591A" }, []string{"person.nhs_number"}, "digits"},
		{"nhs missing", time.Time{}, func(r *ReferralRequest) { r.Person.NHSNumber = " " }, []string{"person.nhs_number"}, "required"},

		// locality: the area's list only (DSR_LOCALITIES), case ignored; empty is "not recorded"
		{"locality on the list", time.Time{}, func(r *ReferralRequest) { r.Person.Locality = "Wiltshire" }, nil, ""},
		{"locality case and spaces ignored", time.Time{}, func(r *ReferralRequest) { r.Person.Locality = "  bath AND north east somerset " }, nil, ""},
		{"locality empty", time.Time{}, func(r *ReferralRequest) { r.Person.Locality = "" }, nil, ""},
		{"locality an address", time.Time{}, func(r *ReferralRequest) { r.Person.Locality = "1 High Street, Swindon" }, []string{"person.locality"}, "one of the area's localities"},
		{"locality elsewhere", time.Time{}, func(r *ReferralRequest) { r.Person.Locality = "Bristol" }, []string{"person.locality"}, "Swindon"},
		{"locality Other", time.Time{}, func(r *ReferralRequest) { r.Person.Locality = "Other" }, []string{"person.locality"}, "localities"},

		// date of birth
		{"dob missing", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "" }, []string{"person.date_of_birth"}, "required"},
		{"dob UK order", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "04/03/2001" }, []string{"person.date_of_birth"}, "YYYY-MM-DD"},
		{"dob unpadded", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2001-3-4" }, []string{"person.date_of_birth"}, "YYYY-MM-DD"},
		{"dob 31 June", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2001-06-31" }, []string{"person.date_of_birth"}, "real date"},
		{"dob month 13", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2001-13-01" }, []string{"person.date_of_birth"}, "real date"},
		{"dob with time", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2001-03-04T00:00:00Z" }, []string{"person.date_of_birth"}, "real date"},
		{"dob negative year", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "-001-01-01" }, []string{"person.date_of_birth"}, "real date"},
		{"dob 29 Feb leap year", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2004-02-29" }, nil, ""},
		{"dob 29 Feb 2000 (leap century)", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2000-02-29" }, nil, ""},
		{"dob 29 Feb common year", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2003-02-29" }, []string{"person.date_of_birth"}, "real date"},
		{"dob 29 Feb 1900 (common century)", time.Time{}, func(r *ReferralRequest) {
			r.Person.DateOfBirth = "1900-02-29"
		}, []string{"person.date_of_birth"}, "real date"},
		{"dob today", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2026-06-15"; r.Consent.RecordedOn = "2026-06-15" }, nil, ""},
		{"dob tomorrow", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "2026-06-16" }, []string{"person.date_of_birth"}, "future"},
		{"dob tomorrow in London though today in UTC", time.Date(2026, 6, 14, 23, 30, 0, 0, time.UTC), func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2026-06-15"
			r.Consent.RecordedOn = "2026-06-15"
		}, nil, ""},
		{"dob exactly 120 years ago", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "1906-06-15" }, nil, ""},
		{"dob 120 years and a day ago", time.Time{}, func(r *ReferralRequest) { r.Person.DateOfBirth = "1906-06-14" }, []string{"person.date_of_birth"}, "120 years"},

		// consent
		{"consent basis missing", time.Time{}, func(r *ReferralRequest) { r.Consent.Basis = "" }, []string{"consent.basis"}, "required"},
		{"consent basis unknown", time.Time{}, func(r *ReferralRequest) { r.Consent.Basis = "verbal" }, []string{"consent.basis"}, "one of"},
		{"consent basis wrong case", time.Time{}, func(r *ReferralRequest) { r.Consent.Basis = "Informed_Consent" }, []string{"consent.basis"}, "one of"},
		{"best interest decision", time.Time{}, func(r *ReferralRequest) { r.Consent.Basis = BestInterestDecision }, nil, ""},
		{"parental responsibility at 17", time.Time{}, func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2008-06-16"
			r.Consent.Basis = ParentalResponsibility
		}, nil, ""},
		{"parental responsibility on the 18th birthday", time.Time{}, func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2008-06-15"
			r.Consent.Basis = ParentalResponsibility
		}, []string{"consent.basis"}, "under 18"},
		{"parental responsibility on the 18th birthday in London, still the 17th year in UTC", time.Date(2026, 6, 14, 23, 30, 0, 0, time.UTC), func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2008-06-15"
			r.Consent.Basis = ParentalResponsibility
		}, []string{"consent.basis"}, "under 18"},
		{"parental responsibility for an adult", time.Time{}, func(r *ReferralRequest) { r.Consent.Basis = ParentalResponsibility }, []string{"consent.basis"}, "under 18"},
		{"born 29 Feb: still 17 on 28 Feb of a common year", time.Date(2026, 2, 28, 12, 0, 0, 0, London), func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2008-02-29"
			r.Consent.Basis = ParentalResponsibility
			r.Consent.RecordedOn = "2026-02-01"
		}, nil, ""},
		{"born 29 Feb: 18 on 1 Mar of a common year", time.Date(2026, 3, 1, 12, 0, 0, 0, London), func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2008-02-29"
			r.Consent.Basis = ParentalResponsibility
			r.Consent.RecordedOn = "2026-02-01"
		}, []string{"consent.basis"}, "under 18"},
		{"born 29 Feb 2008: 17 on 28 Feb 2026, the day before the leap-day birthday would be", time.Date(2026, 2, 28, 23, 59, 0, 0, London), func(r *ReferralRequest) {
			r.Person.DateOfBirth = "2008-02-29"
			r.Consent.Basis = ParentalResponsibility
			r.Consent.RecordedOn = "2026-02-28"
		}, nil, ""},
		{"consent recorded today", time.Time{}, func(r *ReferralRequest) { r.Consent.RecordedOn = "2026-06-15" }, nil, ""},
		{"consent recorded tomorrow", time.Time{}, func(r *ReferralRequest) { r.Consent.RecordedOn = "2026-06-16" }, []string{"consent.recorded_on"}, "future"},
		{"consent recorded before birth", time.Time{}, func(r *ReferralRequest) { r.Consent.RecordedOn = "2000-01-01" }, []string{"consent.recorded_on"}, "date of birth"},
		{"consent recorded_on missing", time.Time{}, func(r *ReferralRequest) { r.Consent.RecordedOn = "" }, []string{"consent.recorded_on"}, "required"},
		{"consent recorded_on not a date", time.Time{}, func(r *ReferralRequest) { r.Consent.RecordedOn = "yesterday" }, []string{"consent.recorded_on"}, "YYYY-MM-DD"},
		{"consent recorded_by blank", time.Time{}, func(r *ReferralRequest) { r.Consent.RecordedBy = " \t " }, []string{"consent.recorded_by"}, "required"},
		{"consent details too long", time.Time{}, func(r *ReferralRequest) { r.Consent.Details = long(MaxTextLen + 1) }, []string{"consent.details"}, "at most 10000"},

		// names
		{"given name whitespace only", time.Time{}, func(r *ReferralRequest) { r.Person.GivenName = "   " }, []string{"person.given_name"}, "required"},
		{"family name tabs and newlines", time.Time{}, func(r *ReferralRequest) { r.Person.FamilyName = "\t\r\n" }, []string{"person.family_name"}, "required"},
		{"given name non-breaking spaces", time.Time{}, func(r *ReferralRequest) { r.Person.GivenName = "\u00a0\u2003" }, []string{"person.given_name"}, "required"},
		{"given name empty", time.Time{}, func(r *ReferralRequest) { r.Person.GivenName = "" }, []string{"person.given_name"}, "required"},
		{"name with surrounding spaces kept", time.Time{}, func(r *ReferralRequest) { r.Person.GivenName = "  Zoë  " }, nil, ""},
		{"name of 100 characters", time.Time{}, func(r *ReferralRequest) { r.Person.FamilyName = long(MaxNameLen) }, nil, ""},
		{"name of 101 characters", time.Time{}, func(r *ReferralRequest) { r.Person.FamilyName = long(MaxNameLen + 1) }, []string{"person.family_name"}, "at most 100"},
		{"name on two lines", time.Time{}, func(r *ReferralRequest) { r.Person.GivenName = "Zoë\nSmith" }, []string{"person.given_name"}, "one line"},
		{"referrer name too long", time.Time{}, func(r *ReferralRequest) { r.Referrer.Name = long(101) }, []string{"referrer.name"}, "at most 100"},
		{"referrer name absent", time.Time{}, func(r *ReferralRequest) { r.Referrer.Name = "" }, nil, ""},

		// free text
		{"free text of 10000 characters", time.Time{}, func(r *ReferralRequest) { r.CurrentIssues = long(MaxTextLen) }, nil, ""},
		{"free text of 10001 characters", time.Time{}, func(r *ReferralRequest) { r.Tried = long(MaxTextLen + 1) }, []string{"tried"}, "at most 10000"},
		{"free text with NUL", time.Time{}, func(r *ReferralRequest) { r.CouldHelp = "a\x00b" }, []string{"could_help"}, "NUL"},
		{"odd but valid text", time.Time{}, func(r *ReferralRequest) {
			r.Person.FamilyName = `O'Brien-Ångström "Jr" <b>`
			r.CurrentIssues = "<script>alert(1)</script>'); DROP TABLE people;-- \u202e 😀"
		}, nil, ""},
		{"address too long", time.Time{}, func(r *ReferralRequest) { r.Person.Address = long(MaxShortLen + 1) }, []string{"person.address"}, "at most 500"},

		// postcode
		{"postcode lower case no space", time.Time{}, func(r *ReferralRequest) { r.Person.Postcode = "sn11aa" }, nil, ""},
		{"postcode SW1A", time.Time{}, func(r *ReferralRequest) { r.Person.Postcode = "SW1A 1AA" }, nil, ""},
		{"postcode absent", time.Time{}, func(r *ReferralRequest) { r.Person.Postcode = "" }, nil, ""},
		{"postcode not one", time.Time{}, func(r *ReferralRequest) { r.Person.Postcode = "Swindon" }, []string{"person.postcode"}, "UK postcode"},
		{"postcode zip code", time.Time{}, func(r *ReferralRequest) { r.Person.Postcode = "90210" }, []string{"person.postcode"}, "UK postcode"},

		// professionals and emails
		{"no professionals", time.Time{}, func(r *ReferralRequest) { r.Professionals = nil }, []string{"professionals"}, "at least one"},
		{"empty professionals", time.Time{}, func(r *ReferralRequest) { r.Professionals = []Professional{} }, []string{"professionals"}, "at least one"},
		{"too many professionals", time.Time{}, func(r *ReferralRequest) {
			for len(r.Professionals) <= MaxProfessionals {
				r.Professionals = append(r.Professionals, r.Professionals[0])
			}
		}, []string{"professionals"}, "at most 20"},
		{"professional without email", time.Time{}, func(r *ReferralRequest) { r.Professionals[0].Email = "" }, []string{"professionals[0].email"}, "required"},
		{"professional without name", time.Time{}, func(r *ReferralRequest) { r.Professionals[0].Name = " " }, []string{"professionals[0].name"}, "required"},
		{"second professional's email", time.Time{}, func(r *ReferralRequest) {
			r.Professionals = append(r.Professionals, Professional{Name: "Cat", Email: "cat@"})
		}, []string{"professionals[1].email"}, "not an email"},
		{"email with display name", time.Time{}, func(r *ReferralRequest) {
			r.Professionals[0].Email = "Bob <bob@swindon.example>"
		}, []string{"professionals[0].email"}, "alone"},
		{"email with a comment", time.Time{}, func(r *ReferralRequest) {
			r.Professionals[0].Email = "bob@swindon.example (work)"
		}, []string{"professionals[0].email"}, "alone"},
		{"email with angle brackets", time.Time{}, func(r *ReferralRequest) {
			r.Professionals[0].Email = "<bob@swindon.example>"
		}, []string{"professionals[0].email"}, "alone"},
		{"two emails", time.Time{}, func(r *ReferralRequest) {
			r.Professionals[0].Email = "a@b.example, c@d.example"
		}, []string{"professionals[0].email"}, ""},
		{"email header injection", time.Time{}, func(r *ReferralRequest) {
			r.Professionals[0].Email = "a@b.example\r\nBcc: x@y.example"
		}, []string{"professionals[0].email"}, ""},
		{"email with spaces and capitals", time.Time{}, func(r *ReferralRequest) { r.Professionals[0].Email = " Bob.Jones@Swindon.Example " }, nil, ""},
		{"email too long", time.Time{}, func(r *ReferralRequest) {
			r.Professionals[0].Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".example"
		}, []string{"professionals[0].email"}, "at most 254"},
		{"manager email bad", time.Time{}, func(r *ReferralRequest) { r.Professionals[0].ManagerEmail = "manager" }, []string{"professionals[0].manager_email"}, "not an email"},
		{"manager email absent", time.Time{}, func(r *ReferralRequest) { r.Professionals[0].ManagerEmail = "" }, nil, ""},
		{"referrer email bad", time.Time{}, func(r *ReferralRequest) { r.Referrer.Email = "ann at nhs" }, []string{"referrer.email"}, "not an email"},
		{"referrer email absent", time.Time{}, func(r *ReferralRequest) { r.Referrer.Email = "" }, nil, ""},

		// rating
		{"rag missing", time.Time{}, func(r *ReferralRequest) { r.ProposedRAG = "" }, []string{"proposed_rag"}, "required"},
		{"rag unknown", time.Time{}, func(r *ReferralRequest) { r.ProposedRAG = "purple" }, []string{"proposed_rag"}, "one of"},
		{"rag blue", time.Time{}, func(r *ReferralRequest) { r.ProposedRAG = Blue }, nil, ""},

		// every problem at once
		{"several problems", time.Time{}, func(r *ReferralRequest) {
			r.Person.NHSNumber = "123"
			r.Person.DateOfBirth = "2030-01-01"
			r.Consent.Basis = ""
			r.Professionals[0].Email = "x"
			r.ProposedRAG = "pink"
		}, []string{"consent.basis", "person.date_of_birth", "person.nhs_number", "professionals[0].email", "proposed_rag"}, ""},
		{"nothing at all", time.Time{}, func(r *ReferralRequest) { *r = ReferralRequest{} }, []string{
			"consent.basis", "consent.recorded_by", "consent.recorded_on", "person.date_of_birth", "person.family_name",
			"person.given_name", "person.nhs_number", "professionals", "proposed_rag",
		}, "required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := validReferral()
			tc.edit(&req)
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			err := ValidateReferral(req, now, nil)
			got := fieldKeys(err)
			if !reflect.DeepEqual(got, tc.fields) {
				t.Fatalf("fields at fault = %v (%v), want %v", got, errFields(err), tc.fields)
			}
			if err != nil {
				if err.Kind != KindInvalid {
					t.Errorf("kind = %v, want KindInvalid", err.Kind)
				}
				if p := err.Fields[tc.fields[0]]; !strings.Contains(p, tc.problem) {
					t.Errorf("problem with %s = %q, want it to mention %q", tc.fields[0], p, tc.problem)
				}
			}
		})
	}
}

func errFields(e *Error) map[string]string {
	if e == nil {
		return nil
	}
	return e.Fields
}

func TestNormalised(t *testing.T) {
	req := validReferral()
	req.Professionals[0].Email = " Bob.Jones@Swindon.Example "
	req.Person.GivenName = "  Zoë "
	n := req.Normalised()
	if n.Person.NHSNumber != "9434765919" || n.Person.Postcode != "SN1 1AA" ||
		n.Referrer.Email != "ann.smith@nhs.example" || n.Professionals[0].Email != "bob.jones@swindon.example" {
		t.Fatalf("Normalised = %+v", n)
	}
	if n.Person.GivenName != "  Zoë " || n.Person.Address != req.Person.Address {
		t.Errorf("Normalised altered text: %q %q", n.Person.GivenName, n.Person.Address)
	}
	if req.Professionals[0].Email != " Bob.Jones@Swindon.Example " {
		t.Error("Normalised changed its receiver's professionals")
	}
	if err := ValidateReferral(n, testNow, nil); err != nil {
		t.Errorf("normalised referral refused: %v", err.Fields)
	}
	if again := n.Normalised(); !reflect.DeepEqual(again, n) {
		t.Errorf("Normalised is not idempotent: %+v", again)
	}
	// Invalid values are left for ValidateReferral to report.
	bad := validReferral()
	bad.Person.NHSNumber, bad.Person.Postcode = "943 476 5918", "nowhere"
	if n := bad.Normalised(); n.Person.NHSNumber != "943 476 5918" || n.Person.Postcode != "nowhere" {
		t.Errorf("Normalised changed invalid values: %+v", n.Person)
	}
}

func TestNormalisePostcode(t *testing.T) {
	good := map[string]string{
		"sn1 1aa": "SN1 1AA", "SN11AA": "SN1 1AA", " ba1  1aa ": "BA1 1AA", "SW1A1AA": "SW1A 1AA",
		"w1a 0ax": "W1A 0AX", "M1 1AE": "M1 1AE", "B33 8TH": "B33 8TH", "CR2 6XH": "CR2 6XH",
		"DN55 1PT": "DN55 1PT", "GIR 0AA": "GIR 0AA", "ASCN 1ZZ": "ASCN 1ZZ",
	}
	for in, want := range good {
		if got, err := NormalisePostcode(in); err != nil || got != want {
			t.Errorf("NormalisePostcode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SN1", "1AA", "SN1 1A", "SN1 AAA", "90210", "SN1-1AA", "SN1 1AA X", "ΣΝ1 1ΑΑ", strings.Repeat("A", 40)} {
		if got, err := NormalisePostcode(in); err == nil {
			t.Errorf("NormalisePostcode(%q) = %q, want an error", in, got)
		}
	}
}

func TestAgeOnAndBand(t *testing.T) {
	tests := []struct {
		dob  string
		day  time.Time
		age  int
		band string
	}{
		{"2026-06-15", testNow, 0, "0-13"},
		{"2012-06-16", testNow, 13, "0-13"},
		{"2012-06-15", testNow, 14, "14-17"},
		{"2008-06-16", testNow, 17, "14-17"},
		{"2008-06-15", testNow, 18, "18-25"},
		{"2000-06-15", testNow, 26, "26-64"},
		{"1961-06-16", testNow, 64, "26-64"},
		{"1961-06-15", testNow, 65, "65+"},
		{"2008-02-29", time.Date(2026, 2, 28, 12, 0, 0, 0, London), 17, "14-17"},
		{"2008-02-29", time.Date(2026, 3, 1, 0, 0, 0, 0, London), 18, "18-25"},
		{"2008-02-29", time.Date(2028, 2, 29, 0, 0, 0, 0, London), 20, "18-25"},
		{"2008-02-29", time.Date(2028, 2, 28, 0, 0, 0, 0, London), 19, "18-25"},
		// 23:30 UTC on 14 June is 00:30 on 15 June in London.
		{"2008-06-15", time.Date(2026, 6, 14, 23, 30, 0, 0, time.UTC), 18, "18-25"},
	}
	for _, tc := range tests {
		age, err := AgeOn(tc.dob, tc.day)
		if err != nil || age != tc.age || AgeBand(age) != tc.band {
			t.Errorf("AgeOn(%s, %v) = %d (%s), %v; want %d (%s)", tc.dob, tc.day, age, AgeBand(age), err, tc.age, tc.band)
		}
	}
	for _, dob := range []string{"2026-06-16", "2026-02-30", "15/06/2000", ""} {
		if age, err := AgeOn(dob, testNow); err == nil {
			t.Errorf("AgeOn(%q) = %d, want an error", dob, age)
		}
	}
	if AgeBand(-1) != "unknown" {
		t.Errorf("AgeBand(-1) = %q", AgeBand(-1))
	}
}

func referralJSON(t testing.TB, req ReferralRequest) []byte {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeReferral(t *testing.T) {
	want := validReferral()
	want.Person.FamilyName = `O'Brien <script>alert("x")</script> '; DROP TABLE people;--`
	got, err := DecodeReferral(bytes.NewReader(referralJSON(t, want)))
	if err != nil {
		t.Fatalf("DecodeReferral: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant %+v", got, want)
	}

	// The contract's example body, as a client would type it.
	body := `{
	  "person": {"given_name": "Amy", "family_name": "Ng", "date_of_birth": "2010-05-01",
	             "nhs_number": "943 476 5919", "address": "", "postcode": "", "locality": ""},
	  "referrer": {"name": "", "email": "", "organisation": "", "phone": ""},
	  "consent": {"basis": "parental_responsibility", "recorded_on": "2026-06-01", "recorded_by": "Mum", "details": ""},
	  "proposed_rag": "red",
	  "current_issues": "", "tried": "", "could_help": "",
	  "professionals": [{"name": "Bob", "role": "", "organisation": "", "email": "bob@x.example", "manager_email": ""}]
	}` + "\r\n"
	req, err := DecodeReferral(strings.NewReader(body))
	if err != nil {
		t.Fatalf("contract body: %v", err)
	}
	if verr := ValidateReferral(req, testNow, nil); verr != nil {
		t.Fatalf("contract body refused: %v", verr.Fields)
	}
	if req.Consent.Basis != ParentalResponsibility || req.ProposedRAG != Red || req.Professionals[0].Email != "bob@x.example" {
		t.Errorf("contract body decoded as %+v", req)
	}
}

func TestDecodeReferralRefuses(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		kind   Kind
		fields map[string]string
	}{
		{"empty", "", KindMalformed, nil},
		{"whitespace", " \n ", KindMalformed, nil},
		{"truncated", `{"person": {"given_name": "A"`, KindMalformed, nil},
		{"not json", `person=Amy`, KindMalformed, nil},
		{"trailing comma", `{"proposed_rag": "red",}`, KindMalformed, nil},
		{"two values", `{} {}`, KindMalformed, nil},
		{"trailing garbage", `{"proposed_rag": "red"} x`, KindMalformed, nil},
		{"bad utf-8", "{\"tried\": \"\xff\xfe\"}", KindMalformed, nil},
		{"array", `[]`, KindInvalid, nil},
		{"null", `null`, KindInvalid, nil},
		{"string", `"referral"`, KindInvalid, nil},
		{"unknown top-level field", `{"website": "spam"}`, KindInvalid, map[string]string{"website": "unknown field"}},
		{"unknown person field", `{"person": {"nhs_numbr": "9434765919"}}`, KindInvalid, map[string]string{"person.nhs_numbr": "unknown field"}},
		{"field in the wrong case", `{"person": {"NHS_NUMBER": "9434765919"}}`, KindInvalid, map[string]string{"person.NHS_NUMBER": "unknown field"}},
		{"unknown field of the second professional", `{"professionals": [{"name": "A"}, {"name": "B", "phone": "1"}]}`,
			KindInvalid, map[string]string{"professionals[1].phone": "unknown field"}},
		{"every unknown field", `{"a": 1, "person": {"b": 2}, "consent": {"c": 3}}`, KindInvalid,
			map[string]string{"a": "unknown field", "person.b": "unknown field", "consent.c": "unknown field"}},
		{"number for a string", `{"person": {"nhs_number": 9434765919}}`, KindInvalid, map[string]string{"person.nhs_number": "must be a string"}},
		{"object for an array", `{"professionals": {"name": "A"}}`, KindInvalid, map[string]string{"professionals": "must be an array"}},
		{"string for an object", `{"person": "Amy"}`, KindInvalid, map[string]string{"person": "must be an object"}},
		{"bool in an array", `{"professionals": [true]}`, KindInvalid, map[string]string{"professionals[0]": "must be an object"}},
		{"array for a string", `{"proposed_rag": ["red"]}`, KindInvalid, map[string]string{"proposed_rag": "must be a string"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeReferral(strings.NewReader(tc.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Kind != tc.kind {
				t.Errorf("kind = %v, want %v (%v)", e.Kind, tc.kind, e)
			}
			if len(e.Fields) != 0 || len(tc.fields) != 0 {
				if !reflect.DeepEqual(e.Fields, tc.fields) {
					t.Errorf("fields = %v, want %v", e.Fields, tc.fields)
				}
			}
		})
	}
}

func TestDecodeReferralNullsAreAbsent(t *testing.T) {
	req, err := DecodeReferral(strings.NewReader(`{"person": null, "professionals": null, "tried": null, "consent": {"basis": null}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req, ReferralRequest{}) {
		t.Errorf("decoded %+v, want the zero referral", req)
	}
}

// A body over the API's limit surfaces as the reader's own error, for the
// HTTP layer to answer 413, not as malformed JSON.
func TestDecodeReferralPassesReadErrors(t *testing.T) {
	body := referralJSON(t, validReferral())
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(body)), int64(len(body)/2))
	_, err := DecodeReferral(r)
	var mbe *http.MaxBytesError
	if !errors.As(err, &mbe) {
		t.Fatalf("err = %v, want an *http.MaxBytesError", err)
	}
	if KindOf(err) != KindInternal {
		t.Errorf("kind = %v, want KindInternal (not the client's malformed JSON)", KindOf(err))
	}
	// The same limit, with trailing bytes past one value, still reports the read error.
	padded := append(append([]byte{}, body...), bytes.Repeat([]byte(" "), 100)...)
	r = http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(padded)), int64(len(body)+10))
	if _, err := DecodeReferral(r); !errors.As(err, &mbe) {
		t.Fatalf("trailing: err = %v, want an *http.MaxBytesError", err)
	}
}

func FuzzDecodeReferral(f *testing.F) {
	f.Add(referralJSON(f, validReferral()))
	bad := validReferral()
	bad.Person.NHSNumber = "4010232170"
	f.Add(referralJSON(f, bad))
	f.Add([]byte(`{"person": {"nhs_number": "943 476 5919"}}`))
	f.Add([]byte(`{"professionals": [{"email": "a@b"}], "person": {"NHS_number": "1"}}`))
	f.Add([]byte(`[1, {"a": null}]`))
	f.Add([]byte("{\"tried\": \"\\u0000\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeReferral(bytes.NewReader(body))
		if err != nil {
			if k := KindOf(err); k != KindMalformed && k != KindInvalid {
				t.Fatalf("decode error of kind %v: %v", k, err)
			}
			return
		}
		if verr := ValidateReferral(req, testNow, nil); verr != nil {
			if verr.Kind != KindInvalid || len(verr.Fields) == 0 {
				t.Fatalf("validation error without fields: %+v", verr)
			}
			return
		}
		n, err := NormaliseNHS(req.Person.NHSNumber)
		if err != nil || !modulus11(n) {
			t.Fatalf("accepted NHS number %q: %q, %v", req.Person.NHSNumber, n, err)
		}
		if len(req.Professionals) == 0 {
			t.Fatal("accepted a referral without professionals")
		}
		if age, err := AgeOn(req.Person.DateOfBirth, testNow); err != nil || age > MaxAgeYears {
			t.Fatalf("accepted date of birth %q: age %d, %v", req.Person.DateOfBirth, age, err)
		}
	})
}

func TestLocalities(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    Localities
		problem string
	}{
		{"", DefaultLocalities, ""},
		{"  ", DefaultLocalities, ""},
		{"Swindon", Localities{"Swindon"}, ""},
		{" Brighton, Hove ; Lewes;;", Localities{"Brighton, Hove", "Lewes"}, ""},
		{";", nil, "no locality"},
		{"Lewes;lewes", nil, "twice"},
		{"Lewes;Other", nil, "Other"},
		{"Lewes\nHove", nil, "one line"},
		{strings.Repeat("x", MaxShortLen+1), nil, "at most"},
	} {
		got, err := ParseLocalities(tc.spec)
		if tc.problem != "" {
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("ParseLocalities(%q) error = %v, want one mentioning %q", tc.spec, err, tc.problem)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseLocalities(%q) = %q, %v; want %q", tc.spec, got, err, tc.want)
		}
	}

	areas := Localities{"Brighton, Hove", "Lewes"}
	for in, want := range map[string]string{"lewes": "Lewes", "": "", "  ": "", "Swindon": OtherLocality, "BRIGHTON, HOVE": "Brighton, Hove", "1 High St": OtherLocality} {
		if got := areas.ReportKey(in); got != want {
			t.Errorf("ReportKey(%q) = %q, want %q", in, got, want)
		}
	}
	req := validReferral()
	req.Person.Locality = "Swindon"
	if err := ValidateReferral(req, testNow, areas); err == nil || err.Fields["person.locality"] == "" {
		t.Errorf("Swindon against %q: %v, want person.locality refused", areas, err)
	}
	req.Person.Locality = "LEWES"
	if err := ValidateReferral(req, testNow, areas); err != nil {
		t.Errorf("LEWES against %q: %v, want accepted", areas, err)
	}
}
