package register

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The CSV register: one row per person, with a header row naming the
// columns. Columns are matched by name, ignoring case and surrounding
// spaces, in any order; a column the register does not know is an error, so
// a misspelt column is never silently dropped. Columns marked * must be in
// the header; the others may be left out, and any cell may be empty unless
// the referral rules (ValidateReferral) require a value.
//
//	given_name *               the person's names, stored exactly as given
//	family_name *
//	date_of_birth *            YYYY-MM-DD, or DD/MM/YYYY as UK spreadsheets write it
//	nhs_number *               10 digits; spaces and dashes allowed (exported as 943 476 5919)
//	address                    may span lines
//	postcode                   a UK postcode, stored upper case with one space
//	locality
//	consent_basis *            informed_consent, best_interest_decision or parental_responsibility
//	                           (case, spaces and hyphens ignored: "Informed consent" is fine)
//	consent_recorded_on *      a date, as date_of_birth
//	consent_recorded_by *
//	consent_details
//	rag *                      red, amber, green or blue (any case)
//	status                     active (the default), referred, discharged or declined
//	referred_on                a date, as date_of_birth: when the person was referred (the
//	                           import, when empty); a referral still waiting for a decision
//	                           shows how long it has waited, and its triage-overdue notice
//	                           comes the full triage time after the import
//	last_review_date           a date, as date_of_birth; the next review is planned from it
//	current_issues             free text
//	tried
//	could_help
//	referrer_name
//	referrer_email
//	referrer_organisation
//	referrer_phone
//	referrer_relationship      for a self-referral, the referrer's relationship to the person
//	professionalN_name         for N = 1, 2, 3 (up to 20): the professionals named on the
//	professionalN_role         record; professional1_name and professional1_email are
//	professionalN_organisation required columns; a professional whose cells are all
//	professionalN_email        empty is left out
//	professionalN_manager_email
//
// The file may start with a UTF-8 byte order mark and use Windows line
// endings. Blank rows are skipped. Text beginning with = + - @ (which a
// spreadsheet would run as a formula) is exported with a leading apostrophe,
// and one such apostrophe is removed on import, so exported files are safe
// to open and import back unchanged. encoding/csv reads a CR LF inside a
// quoted cell as LF, so free text keeps its lines but not their CRs.
var CSVColumns = CSVHeader(3)

// Column names of the CSV register.
const (
	colGivenName         = "given_name"
	colFamilyName        = "family_name"
	colDateOfBirth       = "date_of_birth"
	colNHSNumber         = "nhs_number"
	colAddress           = "address"
	colPostcode          = "postcode"
	colLocality          = "locality"
	colConsentBasis      = "consent_basis"
	colConsentRecordedOn = "consent_recorded_on"
	colConsentRecordedBy = "consent_recorded_by"
	colConsentDetails    = "consent_details"
	colRAG               = "rag"
	colStatus            = "status"
	colReferredOn        = "referred_on"
	colLastReviewDate    = "last_review_date"
	colCurrentIssues     = "current_issues"
	colTried             = "tried"
	colCouldHelp         = "could_help"
	colReferrerName      = "referrer_name"
	colReferrerEmail     = "referrer_email"
	colReferrerOrg       = "referrer_organisation"
	colReferrerPhone     = "referrer_phone"
	colReferrerRelation  = "referrer_relationship"
)

var personColumns = []string{
	colGivenName, colFamilyName, colDateOfBirth, colNHSNumber, colAddress, colPostcode, colLocality,
	colConsentBasis, colConsentRecordedOn, colConsentRecordedBy, colConsentDetails,
	colRAG, colStatus, colReferredOn, colLastReviewDate, colCurrentIssues, colTried, colCouldHelp,
	colReferrerName, colReferrerEmail, colReferrerOrg, colReferrerPhone, colReferrerRelation,
}

var professionalFields = []string{"name", "role", "organisation", "email", "manager_email"}

var requiredColumns = []string{
	colGivenName, colFamilyName, colDateOfBirth, colNHSNumber, colConsentBasis,
	colConsentRecordedOn, colConsentRecordedBy, colRAG, "professional1_name", "professional1_email",
}

func professionalColumn(n int, field string) string {
	return "professional" + strconv.Itoa(n) + "_" + field
}

var professionalColumnRE = regexp.MustCompile(`^professional([1-9][0-9]?)_(name|role|organisation|email|manager_email)$`)

// CSVHeader returns the register's columns with sets for the given number
// of professionals (at least 1, at most MaxProfessionals).
func CSVHeader(professionals int) []string {
	professionals = max(1, min(professionals, MaxProfessionals))
	h := slices.Clone(personColumns)
	for n := 1; n <= professionals; n++ {
		for _, f := range professionalFields {
			h = append(h, professionalColumn(n, f))
		}
	}
	return h
}

// CSVRow is one person read from a CSV register.
type CSVRow struct {
	Line int // where the row starts in the file, counting from 1 (the header)
	// Referral is the row's data set, normalised (Normalised).
	Referral ReferralRequest
	// Rating is the row's rag: the person's rating, or for a referred person
	// the proposed one (Referral.ProposedRAG holds it too).
	Rating Rating
	Status Status
	// ReferredOn is the start (00:00 London time) of the referral date,
	// nil when the row has none.
	ReferredOn *time.Time
	// LastReview is the start (00:00 London time) of the last review date,
	// nil when the row has none.
	LastReview *time.Time
	// Problems names every problem with the row by column (nhs_number,
	// professional2_email; "row" for the row as a whole); empty when the row
	// can be imported.
	Problems map[string]string
}

// OK reports whether the row has no problems.
func (r CSVRow) OK() bool { return len(r.Problems) == 0 }

// ToPerson returns the record the row describes, as ReferralRequest.ToPerson
// with the row's status, rating, referral date (ReferredAt, zero when the
// row has none) and last review; nothing else the register assigns (id,
// times) is set.
func (r CSVRow) ToPerson() Person {
	p := r.Referral.ToPerson()
	p.Status = r.Status
	if r.Status != Referred {
		p.Rating = r.Rating
	}
	if r.ReferredOn != nil {
		p.ReferredAt = *r.ReferredOn
	}
	p.LastReviewAt = r.LastReview
	return p
}

// CSVReader reads a CSV register row by row, so a large file need not be
// held in memory.
type CSVReader struct {
	cr    *csv.Reader
	now   time.Time
	areas Localities
	col   map[string]int // column name → index in a record
	named int            // columns the header names
	profs int            // professional sets the header has (highest N)
	seen  map[string]int // NHS number → line of the first good row with it
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// NewCSVReader reads and checks the header row. An error is a *Error
// naming unknown, repeated or missing columns, or the reader's own.
// Dates are checked against now, and localities against areas (nil: the
// default list), as ValidateReferral does.
func NewCSVReader(r io.Reader, now time.Time, areas Localities) (*CSVReader, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == string(utf8BOM) {
		if _, err := br.Discard(len(utf8BOM)); err != nil {
			return nil, fmt.Errorf("read register CSV: %w", err)
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // short and long rows are reported per row
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &Error{Kind: KindInvalid, Message: "the CSV file is empty: a header row is required"}
	}
	if err != nil {
		return nil, fmt.Errorf("read register CSV header: %w", err)
	}
	c := &CSVReader{cr: cr, now: now, areas: areas, col: map[string]int{}, seen: map[string]int{}}
	if err := c.readHeader(header); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *CSVReader) readHeader(header []string) error {
	known := map[string]bool{}
	for _, name := range personColumns {
		known[name] = true
	}
	problems := map[string]string{}
	var unknown, repeated []string
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			continue // spreadsheets leave unnamed trailing columns; their cells must be empty
		}
		if m := professionalColumnRE.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n > MaxProfessionals {
				unknown = append(unknown, clip(name))
				continue
			}
			c.profs = max(c.profs, n)
		} else if !known[name] {
			unknown = append(unknown, clip(name))
			continue
		}
		if _, dup := c.col[name]; dup {
			repeated = append(repeated, name)
			continue
		}
		c.col[name] = i
		c.named++
	}
	if len(c.col) == 0 && len(unknown) > 0 {
		// Probably a data row: do not echo what may be personal data.
		return &Error{Kind: KindInvalid, Message: "the first row of the CSV file must be a header row naming the columns (given_name, family_name, date_of_birth, nhs_number, …)"}
	}
	var missing []string
	for _, name := range requiredColumns {
		if _, ok := c.col[name]; !ok {
			missing = append(missing, name)
		}
	}
	var parts []string
	for _, u := range unknown {
		problems[u] = "unknown column"
	}
	for _, d := range repeated {
		problems[d] = "column appears more than once"
	}
	for _, m := range missing {
		problems[m] = "required column missing"
	}
	if len(unknown) > 0 {
		parts = append(parts, "unknown columns: "+strings.Join(unknown, ", "))
	}
	if len(repeated) > 0 {
		parts = append(parts, "repeated columns: "+strings.Join(repeated, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "missing columns: "+strings.Join(missing, ", "))
	}
	if len(parts) > 0 {
		return &Error{Kind: KindInvalid, Message: "the CSV header row has problems: " + strings.Join(parts, "; "), Fields: problems}
	}
	return nil
}

// Next returns the next row, io.EOF after the last, or another error when
// the file cannot be read further (a quote left open, say). Problems with a
// row's values are in the row, not the error.
func (c *CSVReader) Next() (CSVRow, error) {
	for {
		rec, err := c.cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return CSVRow{}, io.EOF
			}
			return CSVRow{}, fmt.Errorf("read register CSV: %w", err)
		}
		line, _ := c.cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		return c.row(line, rec), nil
	}
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// ParseRegisterCSV reads a whole CSV register: NewCSVReader and Next until
// io.EOF.
func ParseRegisterCSV(r io.Reader, now time.Time, areas Localities) ([]CSVRow, error) {
	cr, err := NewCSVReader(r, now, areas)
	if err != nil {
		return nil, err
	}
	var rows []CSVRow
	for {
		row, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

var csvDateMessage = "must be a real date, YYYY-MM-DD or DD/MM/YYYY"

func (c *CSVReader) row(line int, rec []string) CSVRow {
	problems := map[string]string{}
	get := func(name string) string {
		i, ok := c.col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return unguard(rec[i])
	}
	used := make(map[int]bool, len(c.col))
	for _, i := range c.col {
		used[i] = true
	}
	for i, f := range rec {
		if !used[i] && strings.TrimSpace(f) != "" {
			problems["row"] = fmt.Sprintf("has a value in column %d, which the header does not name", i+1)
			break
		}
	}

	date := func(name string) string {
		s, ok := csvDate(get(name))
		if !ok {
			problems[name] = csvDateMessage
		}
		return s
	}
	req := ReferralRequest{
		Person: ReferralPerson{
			GivenName:   get(colGivenName),
			FamilyName:  get(colFamilyName),
			DateOfBirth: date(colDateOfBirth),
			NHSNumber:   get(colNHSNumber),
			Address:     get(colAddress),
			Postcode:    get(colPostcode),
			Locality:    get(colLocality),
		},
		Referrer: Referrer{
			Name:         get(colReferrerName),
			Email:        get(colReferrerEmail),
			Organisation: get(colReferrerOrg),
			Phone:        get(colReferrerPhone),
			Relationship: get(colReferrerRelation),
		},
		Consent: Consent{
			Basis:      ConsentBasis(word(get(colConsentBasis))),
			RecordedOn: date(colConsentRecordedOn),
			RecordedBy: get(colConsentRecordedBy),
			Details:    get(colConsentDetails),
		},
		ProposedRAG:   Rating(strings.ToLower(strings.TrimSpace(get(colRAG)))),
		CurrentIssues: get(colCurrentIssues),
		Tried:         get(colTried),
		CouldHelp:     get(colCouldHelp),
	}
	var setOf []int // professional set number of each entry of req.Professionals
	for n := 1; n <= c.profs; n++ {
		p := Professional{
			Name:         get(professionalColumn(n, "name")),
			Role:         get(professionalColumn(n, "role")),
			Organisation: get(professionalColumn(n, "organisation")),
			Email:        get(professionalColumn(n, "email")),
			ManagerEmail: get(professionalColumn(n, "manager_email")),
		}
		if blank([]string{p.Name, p.Role, p.Organisation, p.Email, p.ManagerEmail}) {
			continue
		}
		req.Professionals = append(req.Professionals, p)
		setOf = append(setOf, n)
	}
	req = req.Normalised()
	req.Person.Locality, _ = c.areas.Canonical(req.Person.Locality)

	if err := ValidateReferral(req, c.now, c.areas); err != nil {
		for path, problem := range err.Fields {
			col := csvColumnOf(path, setOf)
			if _, ours := problems[col]; !ours { // our date message is the clearer one
				problems[col] = problem
			}
		}
	}

	status := Active
	if s := word(get(colStatus)); s != "" {
		status = Status(s)
		if !status.Valid() {
			problems[colStatus] = "must be one of active, referred, discharged, declined"
		}
	}

	// A past date: not in the future, not before the person was born.
	pastDate := func(name string) *time.Time {
		s := date(name)
		if s == "" || problems[name] != "" {
			return nil
		}
		d, _ := parseISODate(s)
		dob, dobOK := parseISODate(req.Person.DateOfBirth)
		switch {
		case d.After(civil(c.now)):
			problems[name] = "must not be in the future"
		case dobOK && d.Before(dob):
			problems[name] = "must not be before the date of birth"
		default:
			t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, London)
			return &t
		}
		return nil
	}
	referredOn := pastDate(colReferredOn)
	lastReview := pastDate(colLastReviewDate)

	nhs := req.Person.NHSNumber
	if problems[colNHSNumber] == "" {
		if first, dup := c.seen[nhs]; dup {
			problems[colNHSNumber] = fmt.Sprintf("repeats the NHS number of line %d", first)
		} else if len(problems) == 0 {
			c.seen[nhs] = line
		}
	}

	return CSVRow{Line: line, Referral: req, Rating: req.ProposedRAG, Status: status, ReferredOn: referredOn, LastReview: lastReview, Problems: problems}
}

// csvColumnOf turns a ValidateReferral field path into the CSV column that
// holds the value; setOf maps each professional's index to its column set.
func csvColumnOf(path string, setOf []int) string {
	switch {
	case path == "proposed_rag":
		return colRAG
	case path == "professionals":
		return "professional1_email"
	case strings.HasPrefix(path, "person."):
		return strings.TrimPrefix(path, "person.")
	case strings.HasPrefix(path, "referrer."):
		return "referrer_" + strings.TrimPrefix(path, "referrer.")
	case strings.HasPrefix(path, "consent."):
		return "consent_" + strings.TrimPrefix(path, "consent.")
	case strings.HasPrefix(path, "professionals["):
		idx, field, ok := strings.Cut(strings.TrimPrefix(path, "professionals["), "].")
		if i, err := strconv.Atoi(idx); ok && err == nil && i >= 0 && i < len(setOf) {
			return professionalColumn(setOf[i], field)
		}
	}
	return path
}

// word reads a coded value leniently, as people type it in spreadsheets:
// "Informed consent" → informed_consent.
func word(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	}), "_")
}

var ukDate = regexp.MustCompile(`^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$`)

// csvDate reads YYYY-MM-DD or DD/MM/YYYY (UK order, never US) as
// YYYY-MM-DD; an empty cell is "" and fine; anything else is returned as
// given with ok false.
func csvDate(s string) (iso string, ok bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", true
	}
	if _, ok := parseISODate(t); ok {
		return t, true
	}
	if m := ukDate.FindStringSubmatch(t); m != nil {
		d, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		y, _ := strconv.Atoi(m[3])
		if date, ok := civilDate(y, time.Month(mo), d); ok {
			return date.Format(time.DateOnly), true
		}
	}
	return s, false
}

// guard keeps a spreadsheet from running text as a formula (CSV injection:
// a self-referral's text ends up in a coordinator's Excel) by prefixing an
// apostrophe; unguard undoes it. Text that already starts with an apostrophe
// before one of those characters gets a second, so the pair is exact.
func guard(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	case '\'':
		if len(s) > 1 && strings.IndexByte("=+-@\t\r'", s[1]) >= 0 {
			return "'" + s
		}
	}
	return s
}

func unguard(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte("=+-@\t\r'", s[1]) >= 0 {
		return s[1:]
	}
	return s
}

// CSVWriter writes people as a CSV register (the columns of CSVHeader).
type CSVWriter struct {
	cw    *csv.Writer
	profs int
}

// NewCSVWriter writes a UTF-8 byte order mark (so Excel reads accents
// right) and the header row with sets for the given number of professionals.
func NewCSVWriter(w io.Writer, professionals int) (*CSVWriter, error) {
	if _, err := w.Write(utf8BOM); err != nil {
		return nil, fmt.Errorf("write register CSV: %w", err)
	}
	header := CSVHeader(professionals)
	c := &CSVWriter{cw: csv.NewWriter(w), profs: (len(header) - len(personColumns)) / len(professionalFields)}
	if err := c.cw.Write(header); err != nil {
		return nil, fmt.Errorf("write register CSV header: %w", err)
	}
	return c, nil
}

// Write writes one person. A person with more professionals than the
// header has sets for is an error rather than a silently shortened record.
func (c *CSVWriter) Write(p Person) error {
	if len(p.Professionals) > c.profs {
		return fmt.Errorf("write register CSV: a person has %d professionals, the header has room for %d", len(p.Professionals), c.profs)
	}
	rag := p.Rating
	if rag == "" {
		rag = p.ProposedRAG
	}
	var referredOn, lastReview string
	if !p.ReferredAt.IsZero() {
		referredOn = p.ReferredAt.In(London).Format(time.DateOnly)
	}
	if p.LastReviewAt != nil {
		lastReview = p.LastReviewAt.In(London).Format(time.DateOnly)
	}
	rec := []string{
		p.GivenName, p.FamilyName, p.DateOfBirth, FormatNHS(p.NHSNumber), p.Address, p.Postcode, p.Locality,
		string(p.Consent.Basis), p.Consent.RecordedOn, p.Consent.RecordedBy, p.Consent.Details,
		string(rag), string(p.Status), referredOn, lastReview, p.CurrentIssues, p.Tried, p.CouldHelp,
		p.Referrer.Name, p.Referrer.Email, p.Referrer.Organisation, p.Referrer.Phone, p.Referrer.Relationship,
	}
	for n := 0; n < c.profs; n++ {
		var pr Professional
		if n < len(p.Professionals) {
			pr = p.Professionals[n]
		}
		rec = append(rec, pr.Name, pr.Role, pr.Organisation, pr.Email, pr.ManagerEmail)
	}
	for i := range rec {
		rec[i] = guard(rec[i])
	}
	if err := c.cw.Write(rec); err != nil {
		return fmt.Errorf("write register CSV: %w", err)
	}
	return nil
}

// Flush writes any buffered rows and reports a write error.
func (c *CSVWriter) Flush() error {
	c.cw.Flush()
	if err := c.cw.Error(); err != nil {
		return fmt.Errorf("write register CSV: %w", err)
	}
	return nil
}

// WriteRegisterCSV writes people as a CSV register, with sets for three
// professionals or as many as the person with most has.
func WriteRegisterCSV(w io.Writer, people []Person) error {
	profs := 3
	for _, p := range people {
		profs = max(profs, len(p.Professionals))
	}
	cw, err := NewCSVWriter(w, profs)
	if err != nil {
		return err
	}
	for _, p := range people {
		if err := cw.Write(p); err != nil {
			return err
		}
	}
	return cw.Flush()
}

// sortedKeys lists a problem map's columns in order, for stable reports.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ProblemList renders a row's problems as "column: problem" lines in column
// order, for an import report. Problems never quote the row's values.
func (r CSVRow) ProblemList() []string {
	out := make([]string, 0, len(r.Problems))
	for _, k := range sortedKeys(r.Problems) {
		out = append(out, k+": "+r.Problems[k])
	}
	return out
}
