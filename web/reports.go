package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/report"
)

// Measure is one breakdown of the summary, as the page shows it.
type Measure struct {
	Key   string
	Title string
	Note  string
	Rows  []Count
}

// Count is one category's count; nil when suppressed.
type Count struct {
	Label string
	N     *int
}

// chart is a horizontal bar chart drawn as SVG on the server.
type chart struct {
	ID     string
	Title  string
	Width  int
	Height int
	Bars   []bar
}

type bar struct {
	Label      string
	Value      string
	Y          int
	Width      int
	TextY      int
	Suppressed bool
}

const (
	chartLabelWidth = 240
	chartBarArea    = 360
	chartRow        = 36
	chartBarHeight  = 24
)

func newChart(id string, m Measure, suppressBelow int) chart {
	c := chart{ID: id, Title: m.Title, Width: chartLabelWidth + chartBarArea + 80, Height: len(m.Rows)*chartRow + 8}
	most := 0
	for _, row := range m.Rows {
		if row.N != nil && *row.N > most {
			most = *row.N
		}
	}
	for i, row := range m.Rows {
		b := bar{Label: row.Label, Y: i*chartRow + 4, TextY: i*chartRow + 4 + chartBarHeight - 6}
		if row.N == nil {
			b.Suppressed = true
			b.Value = "not shown"
		} else {
			b.Value = strconv.Itoa(*row.N)
			if most > 0 {
				b.Width = *row.N * chartBarArea / most
			}
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// periodChoices are the periods a commissioner can pick on the reports
// page: rolling spans to today, and the NHS financial year (1 April) and
// its quarters, which is how commissioning reports are usually asked for.
var periodChoices = []struct{ Key, Label string }{
	{"12m", "The last 12 months"},
	{"3m", "The last 3 months"},
	{"fy", "This financial year so far"},
	{"lastfy", "The last financial year"},
	{"lastq", "The last full quarter"},
	{"custom", "Dates you choose"},
}

func periodSpecs() []spec {
	return []spec{
		{Name: "period", Label: "Period", Kind: radioField},
		{Name: "from", Label: "The first day", Kind: dateField, Required: "Enter the first day of the period"},
		{Name: "to", Label: "The last day", Kind: dateField, Required: "Enter the last day of the period"},
	}
}

// reportPeriod reads the period the reports page counts from its query,
// [from, to) in UTC: by default the twelve months to the start of today, as
// the JSON report does. Periods are whole London days and end no later
// than the start of today (report.Latest), so two reports a moment apart
// cannot be differenced. A period it cannot read comes back as the default with
// the form's errors set, so the page still shows counts.
func reportPeriod(q url.Values, now time.Time) (from, to time.Time, f *form) {
	f = newForm(periodSpecs(), q)
	key := f.get("period")
	if key == "" {
		key = "12m"
		f.Values.Set("period", key)
	}
	day := func(t time.Time) time.Time { // midnight in London
		t = t.In(register.London)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, register.London)
	}
	// The financial year starts on 1 April; quarters start in April, July,
	// October and January.
	fyStart := func(t time.Time) time.Time {
		t = t.In(register.London)
		y := t.Year()
		if t.Month() < time.April {
			y--
		}
		return time.Date(y, time.April, 1, 0, 0, 0, 0, register.London)
	}
	to = report.Latest(now)
	switch key {
	case "12m":
		from = report.YearTo(to)
	case "3m":
		// Months back on the London calendar, so midnight stays midnight
		// across a change to or from summer time.
		from = to.In(register.London).AddDate(0, -3, 0).UTC()
	case "fy":
		from = fyStart(now).UTC()
	case "lastfy":
		start := fyStart(now)
		from, to = start.AddDate(-1, 0, 0).UTC(), start.UTC()
	case "lastq":
		t := now.In(register.London)
		qStart := time.Date(t.Year(), t.Month()-(t.Month()-1)%3, 1, 0, 0, 0, 0, register.London)
		from, to = qStart.AddDate(0, -3, 0).UTC(), qStart.UTC()
	case "custom":
		first, last := f.date("from"), f.date("to")
		if first == "" {
			f.fail("from", "required")
		}
		if last == "" {
			f.fail("to", "required")
		}
		if first == "" || last == "" {
			break
		}
		a, _ := time.ParseInLocation(time.DateOnly, first, register.London)
		b, _ := time.ParseInLocation(time.DateOnly, last, register.London)
		b = b.AddDate(0, 0, 1) // the last day counts in full
		switch {
		case !a.Before(b):
			f.fail("to", "The last day must be the same as or after the first day")
		case !a.Before(day(now)):
			f.fail("from", "The first day must be in the past: reports count whole days, up to the end of yesterday")
		case b.Sub(a) > report.MaxPeriod:
			f.fail("from", "The period can be at most ten years")
		default:
			from, to = a.UTC(), b.UTC()
			if latest := report.Latest(now); to.After(latest) {
				to = latest // the day under way is not counted yet
			}
		}
	default:
		f.fail("period", "Select a period from the list")
	}
	if !f.ok() {
		to = report.Latest(now)
		from = report.YearTo(to)
	}
	return from, to, f
}

// measures lays the summary out as the page's breakdowns.
func measures(sum report.Summary, when string) []Measure {
	cells := func(cs []report.Cell, label func(string) string) []Count {
		out := make([]Count, len(cs))
		for i, c := range cs {
			out[i] = Count{Label: label(c.Key), N: c.Count}
		}
		return out
	}
	same := func(s string) string { return s }
	rating := func(k string) string { return ratingName(register.Rating(k)) }
	status := func(k string) string { return statusName(register.Status(k)) }
	ms := []Measure{
		{Key: "on_register_by_rating", Title: "On the register " + when + ", by rating", Rows: cells(sum.OnRegister.ByRating, rating)},
		{Key: "on_register_by_age_band", Title: "On the register " + when + ", by age", Rows: cells(sum.OnRegister.ByAgeBand, same)},
		{Key: "on_register_by_locality", Title: "On the register " + when + ", by area", Rows: cells(sum.OnRegister.ByLocality, same)},
		{Key: "by_status", Title: "Waiting and on the register " + when + "; discharged and declined in the period", Rows: cells(sum.ByStatus, status)},
		{Key: "service_gaps", Title: "Services that could help, from reviews in the period", Rows: cells(sum.ServiceGaps.Needs, needName),
			Note: "Each person counts once for each need their reviews recorded."},
	}
	changes := Measure{Key: "rating_changes", Title: "Changes of rating, by month"}
	for _, m := range sum.RatingChanges {
		label := m.Month
		if t, err := time.Parse("2006-01", m.Month); err == nil {
			label = t.Format("January 2006")
		}
		changes.Rows = append(changes.Rows, Count{Label: label, N: m.Total})
	}
	return append(ms, changes)
}

type reportView struct {
	Sum     report.Summary
	Periods []struct{ Key, Label string }
	Last    time.Time    // the last instant counted, for showing the period's last day
	CSVHref template.URL // the CSV of the same period
	// When is when "on the register" counts are taken: the end of the
	// period's last day.
	When     string
	Measures []Measure
	Charts   []chart
	Total    *int
	Reviewed *int
	// IncompleteBefore is set when the period reaches back before the
	// retention horizon: episodes closed before it are deleted, uncounted.
	IncompleteBefore time.Time
}

func (s *server) reports(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	from, to, f := reportPeriod(r.URL.Query(), now)
	sum, err := s.d.Reports(r.Context(), from, to)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	// Counts are taken at the end of the period's last day (never the day
	// under way).
	when := "at the end of " + showDate(to.Add(-time.Nanosecond))
	p := reportView{Sum: sum, Measures: measures(sum, when), Total: sum.OnRegister.Total, Reviewed: sum.ServiceGaps.PeopleReviewed,
		Periods: periodChoices, Last: to.Add(-time.Nanosecond), When: when, CSVHref: "/reports.csv"}
	if q := periodQuery(r.URL.Query()); q != "" && len(f.Errors) == 0 {
		// url.Values.Encode escapes every value, so the query is safe as it is.
		p.CSVHref = template.URL("/reports.csv?" + q)
	}
	if h, incomplete := report.RetentionHorizon(s.d.Config.RetainClosedFor, from, now); incomplete {
		p.IncompleteBefore = h
	}
	for i, m := range p.Measures {
		p.Charts = append(p.Charts, newChart(fmt.Sprintf("chart-%d", i), m, sum.SuppressBelow))
	}
	v := s.newView(r, "Reports", "reports", p)
	v.Form = f
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, status, "reports", v)
}

// periodQuery is the query naming the period, without anything else the
// request carried.
func periodQuery(q url.Values) string {
	out := url.Values{}
	for _, k := range []string{"period", "from-day", "from-month", "from-year", "to-day", "to-month", "to-year"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	if out.Get("period") != "custom" {
		return url.Values{"period": out["period"]}.Encode()
	}
	return out.Encode()
}

// reportsCSV is the same summary as the JSON API's CSV.
func (s *server) reportsCSV(w http.ResponseWriter, r *http.Request) {
	from, to, f := reportPeriod(r.URL.Query(), s.now())
	if len(f.Errors) > 0 {
		// A link to the CSV is only offered for a period that reads; a
		// hand-made one that does not gets the page with its errors.
		s.reports(w, r)
		return
	}
	sum, err := s.d.Reports(r.Context(), from, to)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, sum); err != nil {
		s.renderError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+report.FileName(from, to)+`"`)
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
