package web

import (
	"bytes"
	"fmt"
	"net/http"
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

// reportPeriod is the period the reports page counts: the twelve months
// to now, as the JSON report does by default.
func reportPeriod(now time.Time) (from, to time.Time) {
	to = now.UTC()
	return to.AddDate(-1, 0, 0), to
}

// measures lays the summary out as the page's breakdowns.
func measures(sum report.Summary) []Measure {
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
		{Key: "on_register_by_rating", Title: "On the register now, by rating", Rows: cells(sum.OnRegister.ByRating, rating)},
		{Key: "on_register_by_age_band", Title: "On the register now, by age", Rows: cells(sum.OnRegister.ByAgeBand, same)},
		{Key: "on_register_by_locality", Title: "On the register now, by area", Rows: cells(sum.OnRegister.ByLocality, same)},
		{Key: "by_status", Title: "Waiting and on the register now; discharged and declined in the period", Rows: cells(sum.ByStatus, status)},
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
	Sum      report.Summary
	Measures []Measure
	Charts   []chart
	Total    *int
	Reviewed *int
}

func (s *server) reports(w http.ResponseWriter, r *http.Request) {
	from, to := reportPeriod(s.now())
	sum, err := s.d.Reports(r.Context(), from, to)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p := reportView{Sum: sum, Measures: measures(sum), Total: sum.OnRegister.Total, Reviewed: sum.ServiceGaps.PeopleReviewed}
	for i, m := range p.Measures {
		p.Charts = append(p.Charts, newChart(fmt.Sprintf("chart-%d", i), m, sum.SuppressBelow))
	}
	s.render(w, r, http.StatusOK, "reports", s.newView(r, "Reports", "reports", p))
}

// reportsCSV is the same summary as the JSON API's CSV.
func (s *server) reportsCSV(w http.ResponseWriter, r *http.Request) {
	from, to := reportPeriod(s.now())
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
	h.Set("Content-Disposition", `attachment; filename="dsr-summary-`+to.In(register.London).Format(time.DateOnly)+`.csv"`)
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
