package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// v is a published count; nil (hidden) is written as nil.
func v(n int) Count { return &n }

func show(cs []Count) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString(",")
		}
		if c == nil {
			b.WriteString("null")
		} else {
			b.WriteString(strings.TrimSpace(string(mustJSON(*c))))
		}
	}
	return b.String()
}

func mustJSON(x any) []byte {
	b, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	return b
}

func TestPrimary(t *testing.T) {
	for _, tc := range []struct {
		n, threshold int
		want         Count
	}{
		{0, 5, nil},
		{1, 5, nil},
		{4, 5, nil},
		{5, 5, v(5)},
		{6, 5, v(6)},
		{0, 1, nil},
		{1, 1, v(1)},
		{9, 10, nil},
	} {
		got := Primary(tc.n, tc.threshold)
		if show([]Count{got}) != show([]Count{tc.want}) {
			t.Errorf("Primary(%d, %d) = %s, want %s", tc.n, tc.threshold, show([]Count{got}), show([]Count{tc.want}))
		}
	}
}

func TestBreakdown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cells     []int
		wantCells []Count
		wantTotal Count
	}{
		// One cell of 0, 1, 4, 5 or 6 people beside larger ones.
		{"a 0 hides the next smallest too", []int{0, 10, 20}, []Count{nil, nil, v(20)}, v(30)},
		{"a 1 hides the next smallest too", []int{1, 10, 20}, []Count{nil, nil, v(20)}, v(31)},
		{"a 4 hides the next smallest too", []int{4, 10, 20}, []Count{nil, nil, v(20)}, v(34)},
		{"a 5 is shown", []int{5, 10, 20}, []Count{v(5), v(10), v(20)}, v(35)},
		{"a 6 is shown", []int{6, 10, 20}, []Count{v(6), v(10), v(20)}, v(36)},
		// A breakdown made of the cell alone.
		{"0 alone", []int{0}, []Count{nil}, nil},
		{"1 alone", []int{1}, []Count{nil}, nil},
		{"4 alone", []int{4}, []Count{nil}, nil},
		{"5 alone", []int{5}, []Count{v(5)}, v(5)},
		{"6 alone", []int{6}, []Count{v(6)}, v(6)},
		// Two small cells whose sum is itself small: hiding both is not
		// enough (the total less the rest would say "3 between them").
		{"two small, small sum", []int{1, 2, 10, 20}, []Count{nil, nil, nil, v(20)}, v(33)},
		{"two small, sum at the threshold", []int{1, 4, 10, 20}, []Count{nil, nil, v(10), v(20)}, v(35)},
		{"two zeros", []int{0, 0, 7, 9}, []Count{nil, nil, nil, v(9)}, v(16)},
		{"the smallest published goes first, first of equals", []int{3, 8, 6, 6}, []Count{nil, v(8), nil, v(6)}, v(23)},
		{"nothing small", []int{5, 5, 5}, []Count{v(5), v(5), v(5)}, v(15)},
		{"all small but the total is not", []int{2, 2, 2}, []Count{nil, nil, nil}, v(6)},
		{"all small and so is the total", []int{1, 1, 2}, []Count{nil, nil, nil}, nil},
		{"one big and one zero", []int{6, 0}, []Count{nil, nil}, v(6)},
		{"empty", nil, []Count{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cells, total := Breakdown(tc.cells, 5)
			if show(cells) != show(tc.wantCells) || show([]Count{total}) != show([]Count{tc.wantTotal}) {
				t.Errorf("Breakdown(%v) = [%s] total %s, want [%s] total %s", tc.cells,
					show(cells), show([]Count{total}), show(tc.wantCells), show([]Count{tc.wantTotal}))
			}
		})
	}
}

// For any breakdown: no published count is below the threshold; when the
// total is published the hidden cells are none, or at least two adding up
// to at least the threshold; the total is hidden exactly when it is below
// the threshold; published counts are the true ones.
func TestBreakdownNeverRevealsASmallCount(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		threshold := 1 + r.IntN(10)
		cells := make([]int, r.IntN(8))
		total := 0
		for i := range cells {
			cells[i] = r.IntN(3 * threshold)
			total += cells[i]
		}
		shown, shownTotal := Breakdown(cells, threshold)
		hidden, hiddenSum := 0, 0
		for i, c := range shown {
			if c == nil {
				hidden++
				hiddenSum += cells[i]
				continue
			}
			if *c != cells[i] || *c < threshold {
				t.Fatalf("threshold %d, cells %v: published %d for cell %d", threshold, cells, *c, i)
			}
		}
		if (shownTotal == nil) != (total < threshold) {
			t.Fatalf("threshold %d, cells %v: total published = %v, total %d", threshold, cells, shownTotal != nil, total)
		}
		if shownTotal != nil && *shownTotal != total {
			t.Fatalf("threshold %d, cells %v: total %d published as %d", threshold, cells, total, *shownTotal)
		}
		if shownTotal != nil && hidden > 0 && (hidden < 2 || hiddenSum < threshold) {
			t.Fatalf("threshold %d, cells %v: hidden %d cells adding to %d beside a published total: [%s]",
				threshold, cells, hidden, hiddenSum, show(shown))
		}
	}
}

func TestMonths(t *testing.T) {
	d := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		from, to string
		want     string
	}{
		{"2025-01-15T00:00:00Z", "2025-03-02T00:00:00Z", "2025-01,2025-02,2025-03"},
		{"2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", "2025-01"}, // to is exclusive (London midnight is 00:00Z in winter)
		{"2025-03-31T23:30:00Z", "2025-04-01T00:00:00Z", "2025-04"}, // 00:30 BST on 1 April
		{"2025-05-01T00:00:00Z", "2025-05-01T00:00:00Z", ""},
	} {
		if got := strings.Join(Months(d(tc.from), d(tc.to)), ","); got != tc.want {
			t.Errorf("Months(%s, %s) = %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}

var dims = Dimensions{
	Ratings:    []string{"red", "amber", "green", "blue"},
	AgeBands:   []string{"0-13", "14-17", "18-25", "26-64", "65+"},
	Statuses:   []string{"referred", "active", "discharged", "declined"},
	Needs:      []string{"respite", "housing"},
	Localities: []string{"Swindon", "Wiltshire"},
}

func TestBuild(t *testing.T) {
	from := time.Date(2025, 11, 10, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	raw := Raw{
		From: from, To: to,
		Rating:        map[string]int{"red": 6, "amber": 12, "green": 2},
		AgeBand:       map[string]int{"18-25": 7, "26-64": 13},
		Locality:      map[string]int{"Swindon": 15, "": 3, "=cmd": 2},
		Status:        map[string]int{"referred": 3, "active": 20, "discharged": 5},
		RatingChanges: map[string]map[string]int{"2025-12": {"red": 5, "amber": 1}},
		Needs:         map[string]int{"respite": 8, "housing": 4},
		Reviewed:      11,
		RiskToolUsed:  9, RiskToolDiffers: 2,
	}
	s := Build(raw, dims, 5)
	got := string(mustJSON(s))
	want := `{"from":"2025-11-10T00:00:00Z","to":"2026-01-20T00:00:00Z","suppress_below":5,` +
		`"on_register":{"total":20,` +
		`"by_rating":[{"key":"red","count":null},{"key":"amber","count":12},{"key":"green","count":null},{"key":"blue","count":null}],` +
		`"by_age_band":[{"key":"0-13","count":null},{"key":"14-17","count":null},{"key":"18-25","count":null},{"key":"26-64","count":13},{"key":"65+","count":null}],` +
		`"by_locality":[{"key":"Other","count":null},{"key":"Swindon","count":15},{"key":"not recorded","count":null}]},` +
		`"by_status":[{"key":"referred","count":null},{"key":"active","count":20},{"key":"discharged","count":5},{"key":"declined","count":null}],` +
		`"rating_changes":[` +
		`{"month":"2025-11","total":null,"to":[{"key":"red","count":null},{"key":"amber","count":null},{"key":"green","count":null},{"key":"blue","count":null}]},` +
		`{"month":"2025-12","total":6,"to":[{"key":"red","count":null},{"key":"amber","count":null},{"key":"green","count":null},{"key":"blue","count":null}]},` +
		`{"month":"2026-01","total":null,"to":[{"key":"red","count":null},{"key":"amber","count":null},{"key":"green","count":null},{"key":"blue","count":null}]}],` +
		`"service_gaps":{"people_reviewed":11,"needs":[{"key":"respite","count":8},{"key":"housing","count":null}]},` +
		`"cetr":{"admissions":null,"preceded":null,"without":null,"preceded_percent":null,"standard_percent":90,"meets_standard":null,` +
		`"due":null,"overdue":null,"held":null,"eligible":null,"with_keyworker":null,"without_keyworker":null,"keyworker_coverage_percent":null},` +
		`"risk_tool":{"reviews":9,"differs":null}}`
	if got != want {
		t.Errorf("Build:\n got %s\nwant %s", got, want)
	}

	var buf bytes.Buffer
	if err := WriteCSV(&buf, s); err != nil {
		t.Fatal(err)
	}
	csv := buf.String()
	for _, line := range []string{
		"section,period,category,count\n",
		"on_register,2026-01-20T00:00:00Z,total,20\n",
		"on_register_by_rating,2026-01-20T00:00:00Z,green,\n",
		"on_register_by_locality,2026-01-20T00:00:00Z,Other,\n",
		"rating_changes,2025-12,total,6\n",
		"service_gaps,2025-11-10T00:00:00Z/2026-01-20T00:00:00Z,respite,8\n",
	} {
		if !strings.Contains(csv, line) {
			t.Errorf("CSV lacks %q:\n%s", line, csv)
		}
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"2025-04-01T00:00:00+01:00", "2026-04-01T00:00:00+01:00", "dsr-summary-2025-04-01-to-2026-03-31.csv"},
		{"2025-11-27T10:30:00Z", "2026-11-27T10:30:00Z", "dsr-summary-2025-11-27-to-2026-11-27.csv"},
		{"2026-06-30T23:30:00Z", "2026-07-01T00:00:00Z", "dsr-summary-2026-07-01-to-2026-07-01.csv"}, // 00:30 BST on 1 July
	} {
		from, _ := time.Parse(time.RFC3339, tc.from)
		to, _ := time.Parse(time.RFC3339, tc.to)
		if got := FileName(from, to); got != tc.want {
			t.Errorf("FileName(%s, %s) = %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}

// A key starting with a tab or a carriage return before a formula is a
// formula to some spreadsheets too: the guard covers them.
func TestWriteCSVGuardsTabAndCR(t *testing.T) {
	s := Summary{OnRegister: OnRegister{ByLocality: []Cell{{Key: "\t=cmd"}, {Key: "\r@sum"}, {Key: "-1"}}}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{",'\t=cmd,", ",\"'\r@sum\",", ",'-1,"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("CSV lacks %q:\n%q", want, buf.String())
		}
	}
}

func TestReportDays(t *testing.T) {
	lon := register.London
	now := time.Date(2026, 7, 15, 10, 30, 0, 0, lon) // summer time: London is UTC+1
	today := time.Date(2026, 7, 15, 0, 0, 0, 0, lon).UTC()
	for _, tc := range []struct {
		name      string
		got, want time.Time
	}{
		{"start of day", StartOfDay(now), today},
		{"23:30 UTC is the next London day in summer", StartOfDay(time.Date(2026, 7, 14, 23, 30, 0, 0, time.UTC)), today},
		{"latest", Latest(now), today},
		{"a time today rounds to the start of today", RoundTo(now.Add(-time.Second), now), today},
		{"a second later, the same", RoundTo(now, now), today},
		{"a time in the future: today", RoundTo(now.AddDate(0, 1, 0), now), today},
		{"a time yesterday: yesterday's start", RoundTo(now.AddDate(0, 0, -1), now), today.AddDate(0, 0, -1)},
		{"yesterday's date: its whole day", DayEnd(time.Date(2026, 7, 14, 0, 0, 0, 0, lon), now), today},
		{"today's date: not the day under way", DayEnd(time.Date(2026, 7, 15, 0, 0, 0, 0, lon), now), today},
		{"a winter date", DayEnd(time.Date(2026, 1, 31, 0, 0, 0, 0, lon), now), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if !tc.got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestCETRSection(t *testing.T) {
	for _, c := range []struct {
		name              string
		raw               CETRRaw
		admissions, share *int
		meets             *bool
		coverage          *int
	}{
		{"all shown: 18 of 20 is 90%, meets", CETRRaw{Admissions: 20, Preceded: 18, Eligible: 10, WithKeyworker: 5}, count(20), nil, nil, count(50)},
		{"2 without: parts hidden, share hidden", CETRRaw{Admissions: 20, Preceded: 18, Eligible: 10, WithKeyworker: 9}, count(20), nil, nil, nil},
		{"few admissions: all hidden", CETRRaw{Admissions: 4, Preceded: 4}, nil, nil, nil, nil},
		{"shown parts: 15 and 5", CETRRaw{Admissions: 20, Preceded: 15}, count(20), count(75), new(bool), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := buildCETR(c.raw, 5)
			if !sameCount(s.Admissions, c.admissions) {
				t.Errorf("admissions %v", deref(s.Admissions))
			}
			if c.name[:3] == "all" {
				if s.PrecededPercent != nil {
					t.Errorf("18 of 20 leaves 2 without: the share gives them away, shown %d", *s.PrecededPercent)
				}
			} else if !sameCount(s.PrecededPercent, c.share) {
				t.Errorf("share %v", deref(s.PrecededPercent))
			}
			if c.meets != nil && (s.MeetsStandard == nil || *s.MeetsStandard != *c.meets) {
				t.Errorf("meets %v", s.MeetsStandard)
			}
			if !sameCount(s.KeyworkerCoverage, c.coverage) {
				t.Errorf("coverage %v", deref(s.KeyworkerCoverage))
			}
			if s.StandardPercent != 90 {
				t.Error("standard")
			}
		})
	}
	met := buildCETR(CETRRaw{Admissions: 50, Preceded: 45}, 5)
	if met.PrecededPercent == nil || *met.PrecededPercent != 90 || !*met.MeetsStandard {
		t.Errorf("45 of 50: %v %v", deref(met.PrecededPercent), met.MeetsStandard)
	}
	short := buildCETR(CETRRaw{Admissions: 100, Preceded: 89}, 5)
	if short.PrecededPercent == nil || *short.PrecededPercent != 89 || *short.MeetsStandard {
		t.Errorf("89 of 100: %v %v", deref(short.PrecededPercent), short.MeetsStandard)
	}
}

func sameCount(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
