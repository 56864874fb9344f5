package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
)

// fieldKind says how a field is drawn, which decides where an error links.
type fieldKind int

const (
	textField  fieldKind = iota
	dateField            // day, month and year inputs: NAME-day, NAME-month, NAME-year
	radioField           // the first radio's id is the field's id
	checkField           // one checkbox
)

// spec is one field of a form: its name (the request path where the API
// has one, so errors map straight across), its label as the error summary
// says it, and, for a required field, the message when it is left out.
type spec struct {
	Name     string
	Label    string
	Kind     fieldKind
	Required string
}

// form is a form's state: the values sent (every one kept when the form
// comes back with errors), the errors by field name, and the error summary
// in page order.
type form struct {
	Values  url.Values
	Errors  map[string]string
	Summary []summaryItem
	// Nonce identifies one showing of the form: a form sent twice (a double
	// click, a resend after a timeout) makes the same workflow update, which
	// Temporal runs once. It is new each time the form is shown.
	Nonce string
	specs []spec
}

type summaryItem struct {
	Href string
	Text string
}

func newForm(specs []spec, values url.Values) *form {
	if values == nil {
		values = url.Values{}
	}
	f := &form{Values: values, Errors: map[string]string{}, specs: specs, Nonce: values.Get("nonce")}
	if _, err := uuid.Parse(f.Nonce); err != nil {
		f.Nonce = uuid.NewString()
	}
	return f
}

// get is a sent value, trimmed of surrounding space.
func (f *form) get(name string) string { return strings.TrimSpace(f.Values.Get(name)) }

// raw is a sent value as sent (free text is stored exactly as given).
func (f *form) raw(name string) string { return f.Values.Get(name) }

func (f *form) spec(name string) (spec, bool) {
	for _, s := range f.specs {
		if s.Name == name {
			return s, true
		}
	}
	return spec{}, false
}

// fail records a problem with a field, worded for people; the first
// problem found for a field stands.
func (f *form) fail(name, problem string) {
	if _, seen := f.Errors[name]; seen {
		return
	}
	sp, ok := f.spec(name)
	if !ok {
		sp = spec{Name: name, Label: labelFromPath(name)}
	}
	f.Errors[name] = sp.message(problem)
}

// failAll records the problems a *register.Error names, mapping each path
// through to (which may rename it, or say it is not on this form).
func (f *form) failAll(fields map[string]string, to func(path string) string) {
	for path, problem := range fields {
		name := path
		if to != nil {
			name = to(path)
		}
		f.fail(name, problem)
	}
}

// ok reports whether no problem has been found; when there are problems it
// builds the error summary in the order the fields appear on the page, and
// takes a new nonce for the next submission.
func (f *form) ok() bool {
	if len(f.Errors) == 0 {
		return true
	}
	names := make([]string, 0, len(f.Errors))
	for n := range f.Errors {
		names = append(names, n)
	}
	pos := func(n string) int {
		if n == "" {
			return -1 // about the whole form: first
		}
		for i, s := range f.specs {
			if s.Name == n {
				return i
			}
		}
		return len(f.specs)
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := pos(a) - pos(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	f.Summary = f.Summary[:0]
	for _, n := range names {
		item := summaryItem{Text: f.Errors[n]}
		if n != "" {
			item.Href = "#" + f.targetID(n)
		}
		f.Summary = append(f.Summary, item)
	}
	f.Nonce = uuid.NewString()
	return false
}

// targetID is the id of the control an error about the field should take
// the user to.
func (f *form) targetID(name string) string {
	sp, _ := f.spec(name)
	if sp.Kind == dateField {
		return idFor(name) + "-day"
	}
	return idFor(name)
}

// message words a validator's problem ("is required", "must not be in the
// future") as a sentence that names the field.
func (sp spec) message(problem string) string {
	p := strings.TrimSpace(problem)
	p = strings.TrimSuffix(p, ", YYYY-MM-DD")
	p = strings.TrimSuffix(p, " YYYY-MM-DD")
	label := sp.Label
	if label == "" {
		label = labelFromPath(sp.Name)
	}
	switch {
	case p == "required" || p == "is required":
		if sp.Required != "" {
			return sp.Required
		}
		switch sp.Kind {
		case radioField:
			return "Select " + lowerFirst(label)
		case checkField:
			return "Confirm " + lowerFirst(label)
		}
		return "Enter " + lowerFirst(label)
	case strings.HasPrefix(p, "is ") || strings.HasPrefix(p, "must ") || strings.HasPrefix(p, "must"):
		return label + " " + p
	case strings.HasPrefix(p, "not "):
		return label + " is " + p
	case strings.HasPrefix(p, "at most ") || strings.HasPrefix(p, "at least "):
		return label + ": " + p
	case strings.HasPrefix(p, upperFirst(p[:min(1, len(p))])) && p != "":
		return p // a sentence of its own
	}
	return label + ": " + p
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	// Keep acronyms ("NHS number") as they are.
	if n < len(s) {
		next, _ := utf8.DecodeRuneInString(s[n:])
		if unicode.IsUpper(next) {
			return s
		}
	}
	return string(unicode.ToLower(r)) + s[n:]
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// labelFromPath makes a readable name from a field path no spec names.
func labelFromPath(path string) string {
	last := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		last = path[i+1:]
	}
	return upperFirst(strings.ReplaceAll(last, "_", " "))
}

// idFor is a field's HTML id: its name with ., [ and ] made hyphens
// (professionals[0].email becomes professionals-0-email).
func idFor(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		if r == '.' || r == '[' || r == ']' || r == ' ' {
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
			continue
		}
		b.WriteRune(r)
		dash = false
	}
	return strings.TrimSuffix(b.String(), "-")
}

// fieldView is one field as a partial template draws it.
type fieldView struct {
	Name  string
	ID    string
	Label string
	Value string
	Error string
	// For date fields, the parts as sent.
	Day, Month, Year string
}

func fieldOf(f *form, name, label string) fieldView {
	v := fieldView{Name: name, ID: idFor(name), Label: label}
	if f == nil {
		return v
	}
	v.Value = f.Values.Get(name)
	v.Error = f.Errors[name]
	v.Day, v.Month, v.Year = f.Values.Get(name+"-day"), f.Values.Get(name+"-month"), f.Values.Get(name+"-year")
	return v
}

func checked(f *form, name, value string) bool {
	if f == nil {
		return false
	}
	return slices.Contains(f.Values[name], value)
}

func selected(f *form, name, value string) bool { return checked(f, name, value) }

// date reads a date field's day, month and year as YYYY-MM-DD. With all
// three empty it returns "" (the validator decides whether that is allowed);
// with parts that are not a real date it records the problem.
func (f *form) date(name string) string {
	d, m, y := f.get(name+"-day"), f.get(name+"-month"), f.get(name+"-year")
	if d == "" && m == "" && y == "" {
		return ""
	}
	day, e1 := strconv.Atoi(d)
	month, e2 := strconv.Atoi(m)
	year, e3 := strconv.Atoi(y)
	if e1 != nil || e2 != nil || e3 != nil || len(y) != 4 {
		f.fail(name, "must be a real date, with a day, month and 4-digit year")
		return ""
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day || int(t.Month()) != month || t.Year() != year {
		f.fail(name, "must be a real date")
		return ""
	}
	return t.Format(time.DateOnly)
}

// setDate fills a date field's parts from a time, for a form shown with a
// default.
func (f *form) setDate(name string, t time.Time) {
	t = t.In(register.London)
	f.Values.Set(name+"-day", strconv.Itoa(t.Day()))
	f.Values.Set(name+"-month", strconv.Itoa(int(t.Month())))
	f.Values.Set(name+"-year", strconv.Itoa(t.Year()))
}

// dueAt reads a due date as 17:00 UK time that day, as the API does for a
// date without a time.
func dueAt(day string) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, day, register.London)
	if err != nil {
		return time.Time{}
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 17, 0, 0, 0, register.London).UTC()
}

// rowPath maps a request path into a list ("professionals[1].email") to the
// form's row, when blank rows were left out of the request.
func rowPath(prefix string, rows []int) func(string) string {
	return func(path string) string {
		rest, ok := strings.CutPrefix(path, prefix+"[")
		if !ok {
			return path
		}
		num, tail, ok := strings.Cut(rest, "]")
		if !ok {
			return path
		}
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 || i >= len(rows) {
			return path
		}
		return fmt.Sprintf("%s[%d]%s", prefix, rows[i], tail)
	}
}

// growingRows is a list of rows on a form (professionals, new actions) that
// can grow without JavaScript: the form carries its row count in a hidden
// field, and an "add another" submit button sends the form back to be
// shown again with one more row, keeping everything typed.
type growingRows struct {
	Rows  []int
	Max   int
	Added int // the row just added, to put the focus in; -1 for none
}

// addRowField names the "add another" button; a request carrying it is
// not a submission.
const addRowField = "add_row"

// readRows reads how many rows a sent form showed (def when it does not
// say; within [least, most]) and whether the user asked for another.
func readRows(values url.Values, least, def, most int) (g growingRows, add bool) {
	n, err := strconv.Atoi(values.Get("rows"))
	if err != nil {
		n = def
	}
	n = min(max(n, least), most)
	g = growingRows{Rows: rowsOf(n), Max: most, Added: -1}
	if values.Get(addRowField) != "" && n < most {
		g.Rows = rowsOf(n + 1)
		g.Added = n
		return g, true
	}
	return g, false
}

// newRows is a fresh form's rows.
func newRows(n, most int) growingRows {
	return growingRows{Rows: rowsOf(min(n, most)), Max: most, Added: -1}
}

// CanAdd reports whether another row fits.
func (g growingRows) CanAdd() bool { return len(g.Rows) < g.Max }

func rowsOf(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
