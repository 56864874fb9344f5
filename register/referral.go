package register

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a referral may hold, counted in characters (runes).
const (
	MaxNameLen       = 100   // given, family, referrer's and professionals' names
	MaxTextLen       = 10000 // current issues, what was tried, what could help, consent details
	MaxShortLen      = 500   // address, locality, organisation, role, phone, recorded by, relationship
	MaxEmailLen      = 254   // RFC 5321's limit on a forward path
	MaxProfessionals = 20    // named people get every reminder: a long list is a mail cannon
	MaxAgeYears      = 120   // a date of birth further back is a typing slip
)

// ReferralPerson is the person part of a referral.
type ReferralPerson struct {
	GivenName   string `json:"given_name"`
	FamilyName  string `json:"family_name"`
	DateOfBirth string `json:"date_of_birth"` // YYYY-MM-DD
	NHSNumber   string `json:"nhs_number"`    // 10 digits; spaces and dashes allowed
	Address     string `json:"address"`
	Postcode    string `json:"postcode"`
	Locality    string `json:"locality"`
}

// ReferralRequest is the body of POST /api/v1/referrals (CONTRACT.md), also
// what the web form, the starter's JSON file and each CSV row produce. For a
// self-referral Referrer.Relationship says how the referrer knows the person.
type ReferralRequest struct {
	Person        ReferralPerson `json:"person"`
	Referrer      Referrer       `json:"referrer"`
	Consent       Consent        `json:"consent"`
	ProposedRAG   Rating         `json:"proposed_rag"`
	CurrentIssues string         `json:"current_issues"`
	Tried         string         `json:"tried"`
	CouldHelp     string         `json:"could_help"`
	Professionals []Professional `json:"professionals"`
}

// DecodeReferral reads one referral from a JSON body. It returns a
// *Error of KindMalformed when the body is not exactly one well-formed UTF-8
// JSON value, and of KindInvalid naming every unknown field (by path, e.g.
// person.nhs_numbr) and every value of the wrong JSON type. Field names
// must match exactly: encoding/json alone would accept NHS_NUMBER too. Any
// other error comes from reading r (an *http.MaxBytesError, say) and is
// returned wrapped, for the caller to map. DecodeReferral does not validate
// the values: see ValidateReferral.
func DecodeReferral(r io.Reader) (ReferralRequest, error) {
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return ReferralRequest{}, decodeFailure(err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err == nil:
		return ReferralRequest{}, malformed("the body holds more than one JSON value")
	default:
		return ReferralRequest{}, decodeFailure(err)
	}
	// JSON is UTF-8 (RFC 8259); encoding/json would quietly replace bad
	// bytes, and text is stored exactly as given or not at all.
	if !utf8.Valid(raw) {
		return ReferralRequest{}, malformed("the body is not UTF-8")
	}

	var tree any
	td := json.NewDecoder(bytes.NewReader(raw))
	td.UseNumber()
	if err := td.Decode(&tree); err != nil {
		return ReferralRequest{}, fmt.Errorf("decode referral tree: %w", err)
	}
	if _, ok := tree.(map[string]any); !ok {
		return ReferralRequest{}, &Error{Kind: KindInvalid, Message: "the body must be a JSON object"}
	}
	var req ReferralRequest
	fields := map[string]string{}
	checkShape(reflect.TypeOf(req), tree, "", fields)
	if len(fields) > 0 {
		return ReferralRequest{}, Invalid(fields)
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		// checkShape has accepted the shape, so this is a bug, not bad input.
		return ReferralRequest{}, fmt.Errorf("decode referral: %w", err)
	}
	return req, nil
}

func malformed(msg string) *Error { return &Error{Kind: KindMalformed, Message: msg} }

func decodeFailure(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return malformed("the body is empty: a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the body is not valid JSON: it ends too soon")
	case errors.As(err, &syn):
		return malformed(fmt.Sprintf("the body is not valid JSON at byte %d: %v", syn.Offset, syn))
	}
	return fmt.Errorf("read referral: %w", err)
}

// checkShape compares a decoded JSON tree with the Go type it is meant to
// fill, recording unknown fields and wrong JSON types by path. JSON null is
// taken as absent, as encoding/json takes it.
func checkShape(t reflect.Type, v any, path string, fields map[string]string) {
	if v == nil {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			fields[path] = "must be an object"
			return
		}
		known := jsonFields(t)
		for key, val := range obj {
			sub := joinPath(path, clip(key))
			f, ok := known[key]
			if !ok {
				fields[sub] = "unknown field"
				continue
			}
			checkShape(f.Type, val, sub, fields)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			fields[path] = "must be an array"
			return
		}
		for i, el := range arr {
			checkShape(t.Elem(), el, path+"["+strconv.Itoa(i)+"]", fields)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			fields[path] = "must be a string"
		}
	}
}

// jsonFields maps the exact JSON names of t's fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f
	}
	return m
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// clip bounds an unknown field's name before it is echoed back.
func clip(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// ValidateReferral checks a referral against the register's rules and
// returns every problem at once, keyed by field path (person.nhs_number,
// professionals[0].email), or nil when the referral is acceptable. Dates are
// read as days in London, where now falls on "today". The locality, when
// given, must be on the area's list (areas; nil means DefaultLocalities),
// case ignored. Free text is checked for length only: it is stored exactly
// as given.
func ValidateReferral(req ReferralRequest, now time.Time, areas Localities) *Error {
	v := &validator{fields: map[string]string{}}
	today := civil(now)

	p := req.Person
	v.name("person.given_name", p.GivenName, true)
	v.name("person.family_name", p.FamilyName, true)
	dob, dobOK := v.date("person.date_of_birth", p.DateOfBirth)
	if dobOK {
		switch {
		case dob.After(today):
			v.fail("person.date_of_birth", "must not be in the future")
			dobOK = false
		case dob.Before(today.AddDate(-MaxAgeYears, 0, 0)):
			v.fail("person.date_of_birth", fmt.Sprintf("must be within the last %d years", MaxAgeYears))
			dobOK = false
		}
	}
	if strings.TrimSpace(p.NHSNumber) == "" {
		v.fail("person.nhs_number", "is required")
	} else if _, err := NormaliseNHS(p.NHSNumber); err != nil {
		v.fail("person.nhs_number", err.Error())
	}
	v.text("person.address", p.Address, MaxShortLen)
	if strings.TrimSpace(p.Postcode) != "" {
		if _, err := NormalisePostcode(p.Postcode); err != nil {
			v.fail("person.postcode", err.Error())
		}
	}
	if v.text("person.locality", p.Locality, MaxShortLen) {
		if _, ok := areas.Canonical(p.Locality); !ok {
			v.fail("person.locality", areas.problem())
		}
	}

	r := req.Referrer
	v.name("referrer.name", r.Name, false)
	v.email("referrer.email", r.Email, false)
	v.text("referrer.organisation", r.Organisation, MaxShortLen)
	v.text("referrer.phone", r.Phone, MaxShortLen)
	v.text("referrer.relationship", r.Relationship, MaxShortLen)

	c := req.Consent
	switch c.Basis {
	case "":
		v.fail("consent.basis", "is required")
	case InformedConsent, BestInterestDecision:
	case ParentalResponsibility:
		if dobOK && ageOn(dob, today) >= 18 {
			v.fail("consent.basis", "parental_responsibility applies only to a person under 18 on the day")
		}
	default:
		v.fail("consent.basis", "must be one of informed_consent, best_interest_decision, parental_responsibility")
	}
	if on, ok := v.date("consent.recorded_on", c.RecordedOn); ok {
		switch {
		case on.After(today):
			v.fail("consent.recorded_on", "must not be in the future")
		case dobOK && on.Before(dob):
			v.fail("consent.recorded_on", "must not be before the date of birth")
		}
	}
	v.text("consent.recorded_by", c.RecordedBy, MaxShortLen)
	if strings.TrimSpace(c.RecordedBy) == "" {
		v.fail("consent.recorded_by", "is required")
	}
	v.text("consent.details", c.Details, MaxTextLen)

	switch {
	case req.ProposedRAG == "":
		v.fail("proposed_rag", "is required")
	case !req.ProposedRAG.Valid():
		v.fail("proposed_rag", "must be one of red, amber, green, blue")
	}
	v.text("current_issues", req.CurrentIssues, MaxTextLen)
	v.text("tried", req.Tried, MaxTextLen)
	v.text("could_help", req.CouldHelp, MaxTextLen)

	switch n := len(req.Professionals); {
	case n == 0:
		v.fail("professionals", "at least one professional, with an email, is required")
	case n > MaxProfessionals:
		v.fail("professionals", fmt.Sprintf("at most %d professionals", MaxProfessionals))
	}
	for i, pr := range req.Professionals {
		at := "professionals[" + strconv.Itoa(i) + "]."
		v.name(at+"name", pr.Name, true)
		v.text(at+"role", pr.Role, MaxShortLen)
		v.text(at+"organisation", pr.Organisation, MaxShortLen)
		v.email(at+"email", pr.Email, true)
		v.email(at+"manager_email", pr.ManagerEmail, false)
	}

	if len(v.fields) == 0 {
		return nil
	}
	return Invalid(v.fields)
}

// validator gathers problems; the first problem found for a field stands.
type validator struct{ fields map[string]string }

func (v *validator) fail(path, problem string) {
	if _, seen := v.fields[path]; !seen {
		v.fields[path] = problem
	}
}

// text bounds a value's length and refuses NUL, which PostgreSQL cannot
// store in text; everything else is kept as given.
func (v *validator) text(path, s string, max int) bool {
	if strings.IndexByte(s, 0) >= 0 {
		v.fail(path, "must not contain a NUL character")
		return false
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.fail(path, fmt.Sprintf("must be at most %d characters (it is %d)", max, n))
		return false
	}
	return true
}

// name checks a person's name: present after trimming when required, one
// line, bounded. The name is stored untrimmed.
func (v *validator) name(path, s string, required bool) {
	if !v.text(path, s, MaxNameLen) {
		return
	}
	if strings.TrimSpace(s) == "" {
		if required {
			v.fail(path, "is required")
		}
		return
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		v.fail(path, "must be one line, without control characters")
	}
}

func (v *validator) email(path, s string, required bool) {
	if strings.TrimSpace(s) == "" {
		if required {
			v.fail(path, "is required")
		}
		return
	}
	if _, err := NormaliseEmail(s); err != nil {
		v.fail(path, err.Error())
	}
}

func (v *validator) date(path, s string) (time.Time, bool) {
	if strings.TrimSpace(s) == "" {
		v.fail(path, "is required")
		return time.Time{}, false
	}
	d, ok := parseISODate(s)
	if !ok {
		v.fail(path, "must be a real date, YYYY-MM-DD")
	}
	return d, ok
}

var isoDate = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// parseISODate reads a strict YYYY-MM-DD calendar date (no 30 February) as
// midnight UTC: a civil date, comparable with civil(now), not an instant.
func parseISODate(s string) (time.Time, bool) {
	if !isoDate.MatchString(s) {
		return time.Time{}, false
	}
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	return civilDate(y, time.Month(m), d)
}

// civilDate builds a civil date, refusing days that time.Date would roll
// over into the next month.
func civilDate(y int, m time.Month, d int) (time.Time, bool) {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if y < 1 || t.Year() != y || t.Month() != m || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// civil returns the day t falls on in London, as a civil date.
func civil(t time.Time) time.Time {
	y, m, d := t.In(London).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ageOn is the age in whole years on day: a birthday not yet reached this
// year does not count. Someone born on 29 February turns a year older on
// 1 March in common years, which comparing (month, day) pairs gives.
func ageOn(dob, day time.Time) int {
	age := day.Year() - dob.Year()
	if day.Month() < dob.Month() || (day.Month() == dob.Month() && day.Day() < dob.Day()) {
		age--
	}
	return age
}

// AgeOn returns the age in whole years, on the London day that day falls
// on, of a person born on dob (YYYY-MM-DD).
func AgeOn(dob string, day time.Time) (int, error) {
	born, ok := parseISODate(dob)
	if !ok {
		return 0, fmt.Errorf("date of birth %q is not a date YYYY-MM-DD", dob)
	}
	on := civil(day)
	if born.After(on) {
		return 0, errors.New("date of birth is after the day")
	}
	return ageOn(born, on), nil
}

// AgeBand groups an age for anonymised reports: "0-13", "14-17", "18-25",
// "26-64" or "65+"; "unknown" for a negative age.
func AgeBand(age int) string {
	switch {
	case age < 0:
		return "unknown"
	case age <= 13:
		return "0-13"
	case age <= 17:
		return "14-17"
	case age <= 25:
		return "18-25"
	case age <= 64:
		return "26-64"
	}
	return "65+"
}

// NormaliseEmail returns a bare email address (name@example.org: no display
// name, no angle brackets, no comment) trimmed and lower-cased, or an error
// saying what is wrong.
func NormaliseEmail(s string) (string, error) {
	t := strings.TrimSpace(s)
	if utf8.RuneCountInString(t) > MaxEmailLen {
		return "", fmt.Errorf("must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(t)
	if err != nil {
		return "", errors.New("is not an email address")
	}
	if a.Name != "" || a.Address != t {
		return "", errors.New("must be an email address alone, like name@example.org")
	}
	return strings.ToLower(a.Address), nil
}

// ukPostcode is the shape of a UK postcode with its space removed: an outward
// code (A9, A9A, A99, AA9, AA9A, AA99; GIR for Girobank; four letters for the
// overseas territories' ASCN, STHL, TDCU, BIQQ, FIQQ…) then an inward 9AA.
// It checks the shape, not that the postcode exists.
var ukPostcode = regexp.MustCompile(`^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR|[A-Z]{4})[0-9][A-Z]{2}$`)

// NormalisePostcode returns a plausible UK postcode in upper case with one
// space before the inward code (`sn11aa` → `SN1 1AA`), or an error.
func NormalisePostcode(s string) (string, error) {
	if len(s) > 32 {
		return "", errors.New("is not a UK postcode")
	}
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsSpace(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	c := b.String()
	if !ukPostcode.MatchString(c) {
		return "", errors.New("is not a UK postcode")
	}
	return c[:len(c)-3] + " " + c[len(c)-3:], nil
}

// Normalised returns the referral with its NHS number as ten digits, its
// postcode in the usual form and its email addresses trimmed and lower-cased.
// Values that do not normalise (ValidateReferral reports them) and all other
// text are left exactly as given.
func (r ReferralRequest) Normalised() ReferralRequest {
	out := r
	if n, err := NormaliseNHS(r.Person.NHSNumber); err == nil {
		out.Person.NHSNumber = n
	}
	if strings.TrimSpace(r.Person.Postcode) == "" {
		out.Person.Postcode = ""
	} else if pc, err := NormalisePostcode(r.Person.Postcode); err == nil {
		out.Person.Postcode = pc
	}
	out.Referrer.Email = lowerTrim(r.Referrer.Email)
	if r.Professionals != nil {
		out.Professionals = make([]Professional, len(r.Professionals))
		for i, p := range r.Professionals {
			p.Email = lowerTrim(p.Email)
			p.ManagerEmail = lowerTrim(p.ManagerEmail)
			out.Professionals[i] = p
		}
	}
	return out
}

func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ToPerson returns the record a referral starts: the referral's data, with
// nothing the register assigns (id, episode, status, times) filled in.
// Normalise the referral first.
func (r ReferralRequest) ToPerson() Person {
	p := Person{
		ProposedRAG:   r.ProposedRAG,
		GivenName:     r.Person.GivenName,
		FamilyName:    r.Person.FamilyName,
		DateOfBirth:   r.Person.DateOfBirth,
		NHSNumber:     r.Person.NHSNumber,
		Address:       r.Person.Address,
		Postcode:      r.Person.Postcode,
		Locality:      r.Person.Locality,
		Referrer:      r.Referrer,
		Consent:       r.Consent,
		CurrentIssues: r.CurrentIssues,
		Tried:         r.Tried,
		CouldHelp:     r.CouldHelp,
	}
	if r.Professionals != nil {
		p.Professionals = append([]Professional(nil), r.Professionals...)
	}
	return p
}
