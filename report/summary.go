package report

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// Raw is what the database counts, before anything is hidden. It holds
// counts only: no names, NHS numbers, dates of birth, postcodes or ids.
type Raw struct {
	From, To time.Time
	// People on the register at To: by rating, by age band at To, by
	// locality ("" for none recorded).
	Rating   map[string]int
	AgeBand  map[string]int
	Locality map[string]int
	// Referred: waiting for triage at To; Active: on the register at To;
	// Discharged, Declined: during the period.
	Status map[string]int
	// RatingChanges: changes of rating (not first ratings) per month of the
	// period ("2006-01", London time), by the new rating.
	RatingChanges map[string]map[string]int
	// Needs: people with a review held in the period tagging each coded
	// need; Reviewed: people with any review held in the period.
	Needs    map[string]int
	Reviewed int
	// CETR is the C(E)TR and keyworker counts.
	CETR CETRRaw
	// RiskToolUsed: reviews held in the period that answered the risk
	// tool; RiskToolDiffers: those whose rating differs from the tool's.
	RiskToolUsed, RiskToolDiffers int
}

// Dimensions name the categories every summary lists, in order, so that a
// category with no one in it is still listed (as a hidden zero) and the
// shape of the report does not depend on the data.
type Dimensions struct {
	Ratings  []string
	AgeBands []string
	Statuses []string
	Needs    []string
	// Localities is the area's list (DSR_LOCALITIES; empty means the
	// default). People whose recorded locality is not on it are counted
	// as register.OtherLocality, so free text typed into a locality never
	// becomes a row of its own. The rows are the localities people are
	// counted in, in name order.
	Localities register.Localities
}

// Summary is the published report: every count is a Count, nil when hidden.
type Summary struct {
	From          time.Time     `json:"from"`
	To            time.Time     `json:"to"`
	SuppressBelow int           `json:"suppress_below"`
	OnRegister    OnRegister    `json:"on_register"`
	ByStatus      []Cell        `json:"by_status"`
	RatingChanges []MonthCounts `json:"rating_changes"`
	ServiceGaps   ServiceGaps   `json:"service_gaps"`
	CETR          CETRSummary   `json:"cetr"`
	RiskTool      RiskTool      `json:"risk_tool"`
}

// OnRegister is the people on the register at the end of the period.
type OnRegister struct {
	Total      Count  `json:"total"`
	ByRating   []Cell `json:"by_rating"`
	ByAgeBand  []Cell `json:"by_age_band"`
	ByLocality []Cell `json:"by_locality"`
}

// Cell is one category's count.
type Cell struct {
	Key   string `json:"key"`
	Count Count  `json:"count"`
}

// MonthCounts is one month's rating changes, by the new rating.
type MonthCounts struct {
	Month string `json:"month"`
	Total Count  `json:"total"`
	To    []Cell `json:"to"`
}

// ServiceGaps is the coded needs that reviews in the period recorded.
type ServiceGaps struct {
	PeopleReviewed Count  `json:"people_reviewed"`
	Needs          []Cell `json:"needs"`
}

// RiskTool counts how often the rating chosen at a review differed from
// the risk tool's suggestion.
type RiskTool struct {
	Reviews Count `json:"reviews"`
	Differs Count `json:"differs"`
}

// NotRecorded is the locality key of people with none recorded.
const NotRecorded = "not recorded"

// Build hides what must be hidden and lays the report out.
func Build(raw Raw, dims Dimensions, threshold int) Summary {
	s := Summary{From: raw.From.UTC(), To: raw.To.UTC(), SuppressBelow: threshold}

	var total Count
	s.OnRegister.ByRating, total = breakdown(dims.Ratings, raw.Rating, threshold)
	s.OnRegister.ByAgeBand, _ = breakdown(dims.AgeBands, raw.AgeBand, threshold)
	localities := map[string]int{}
	for k, n := range raw.Locality {
		k = dims.Localities.ReportKey(k)
		if k == "" {
			k = NotRecorded
		}
		localities[k] += n
	}
	s.OnRegister.ByLocality, _ = breakdown(sortedKeys(localities), localities, threshold)
	s.OnRegister.Total = total

	for _, k := range dims.Statuses {
		s.ByStatus = append(s.ByStatus, Cell{k, Primary(raw.Status[k], threshold)})
	}
	for _, m := range Months(raw.From, raw.To) {
		cells, t := breakdown(dims.Ratings, raw.RatingChanges[m], threshold)
		s.RatingChanges = append(s.RatingChanges, MonthCounts{Month: m, Total: t, To: cells})
	}
	s.ServiceGaps.PeopleReviewed = Primary(raw.Reviewed, threshold)
	for _, k := range dims.Needs {
		s.ServiceGaps.Needs = append(s.ServiceGaps.Needs, Cell{k, Primary(raw.Needs[k], threshold)})
	}
	s.CETR = buildCETR(raw.CETR, threshold)
	s.RiskTool = RiskTool{Reviews: Primary(raw.RiskToolUsed, threshold), Differs: Primary(raw.RiskToolDiffers, threshold)}
	return s
}

// breakdown lays out counts by keys and hides them by Breakdown's rules.
func breakdown(keys []string, counts map[string]int, threshold int) ([]Cell, Count) {
	ns := make([]int, len(keys))
	for i, k := range keys {
		ns[i] = counts[k]
	}
	shown, total := Breakdown(ns, threshold)
	cells := make([]Cell, len(keys))
	for i, k := range keys {
		cells[i] = Cell{k, shown[i]}
	}
	return cells, total
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Months lists the months ("2006-01", London time) that the period [from,
// to) touches, oldest first.
func Months(from, to time.Time) []string {
	if !from.Before(to) {
		return nil
	}
	f, t := from.In(register.London), to.Add(-time.Nanosecond).In(register.London)
	var out []string
	for m := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, register.London); !m.After(t); m = m.AddDate(0, 1, 0) {
		out = append(out, m.Format("2006-01"))
	}
	return out
}

// MaxPeriod is the longest period a summary may cover.
const MaxPeriod = 10 * 366 * 24 * time.Hour

// YearTo is the start of the default period, the twelve months to to,
// counted back on the London calendar.
func YearTo(to time.Time) time.Time {
	return to.In(register.London).AddDate(-1, 0, 0).UTC()
}

// FileName names a download of the summary of [from, to) by its first and
// last day in London, so files for different periods never collide.
func FileName(from, to time.Time) string {
	f, l := from.In(register.London), to.Add(-time.Nanosecond).In(register.London)
	return "dsr-summary-" + f.Format(time.DateOnly) + "-to-" + l.Format(time.DateOnly) + ".csv"
}

// WriteCSV writes the summary as CSV, one count a row: section, period,
// category, count; a hidden count is an empty cell.
func WriteCSV(w io.Writer, s Summary) error {
	cw := csv.NewWriter(w)
	period := s.From.Format(time.RFC3339) + "/" + s.To.Format(time.RFC3339)
	rows := [][]string{{"section", "period", "category", "count"}}
	add := func(section, per, key string, c Count) {
		v := ""
		if c != nil {
			v = strconv.Itoa(*c)
		}
		rows = append(rows, []string{section, per, key, v})
	}
	add("on_register", s.To.Format(time.RFC3339), "total", s.OnRegister.Total)
	for _, c := range s.OnRegister.ByRating {
		add("on_register_by_rating", s.To.Format(time.RFC3339), c.Key, c.Count)
	}
	for _, c := range s.OnRegister.ByAgeBand {
		add("on_register_by_age_band", s.To.Format(time.RFC3339), c.Key, c.Count)
	}
	for _, c := range s.OnRegister.ByLocality {
		add("on_register_by_locality", s.To.Format(time.RFC3339), c.Key, c.Count)
	}
	for _, c := range s.ByStatus {
		add("by_status", period, c.Key, c.Count)
	}
	for _, m := range s.RatingChanges {
		add("rating_changes", m.Month, "total", m.Total)
		for _, c := range m.To {
			add("rating_changes", m.Month, c.Key, c.Count)
		}
	}
	add("service_gaps", period, "people_reviewed", s.ServiceGaps.PeopleReviewed)
	for _, c := range s.ServiceGaps.Needs {
		add("service_gaps", period, c.Key, c.Count)
	}
	for _, r := range cetrRows(s.CETR) {
		rows = append(rows, []string{"cetr", period, r[0], r[1]})
	}
	for _, r := range rows {
		// Keys come from configuration (locality names): a leading = + - @,
		// or a tab or carriage return before one, would be a formula to a
		// spreadsheet.
		if len(r[2]) > 0 && strings.IndexByte("=+-@\t\r", r[2][0]) >= 0 {
			r[2] = "'" + r[2]
		}
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
