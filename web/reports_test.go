package web

import (
	"net/url"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

func TestReportPeriod(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, register.London)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	now := at("2026-11-27 10:30")
	today := at("2026-11-27 00:00") // periods end no later than the start of today
	custom := func(fd, fm, fy, td, tm, ty string) url.Values {
		return url.Values{"period": {"custom"}, "from-day": {fd}, "from-month": {fm}, "from-year": {fy}, "to-day": {td}, "to-month": {tm}, "to-year": {ty}}
	}
	for _, tc := range []struct {
		name     string
		now      time.Time
		q        url.Values
		from, to time.Time
		errors   []string // fields with a problem
	}{
		{"default", now, url.Values{}, at("2025-11-27 00:00"), today, nil},
		{"12 months", now, url.Values{"period": {"12m"}}, at("2025-11-27 00:00"), today, nil},
		{"3 months", now, url.Values{"period": {"3m"}}, at("2026-08-27 00:00"), today, nil},
		{"this financial year", now, url.Values{"period": {"fy"}}, at("2026-04-01 00:00"), today, nil},
		{"this financial year, in March", at("2027-03-31 23:59"), url.Values{"period": {"fy"}}, at("2026-04-01 00:00"), at("2027-03-31 00:00"), nil},
		{"this financial year, on 1 April", at("2027-04-01 00:00"), url.Values{"period": {"fy"}}, at("2027-04-01 00:00"), at("2027-04-01 00:00"), nil},
		{"last financial year", now, url.Values{"period": {"lastfy"}}, at("2025-04-01 00:00"), at("2026-04-01 00:00"), nil},
		{"last financial year, in February", at("2026-02-10 09:00"), url.Values{"period": {"lastfy"}}, at("2024-04-01 00:00"), at("2025-04-01 00:00"), nil},
		{"last quarter", now, url.Values{"period": {"lastq"}}, at("2026-07-01 00:00"), at("2026-10-01 00:00"), nil},
		{"last quarter, in January", at("2026-01-15 12:00"), url.Values{"period": {"lastq"}}, at("2025-10-01 00:00"), at("2026-01-01 00:00"), nil},
		{"last quarter, on its last day", at("2026-06-30 23:00"), url.Values{"period": {"lastq"}}, at("2026-01-01 00:00"), at("2026-04-01 00:00"), nil},
		{"custom: the last day counts in full", now, custom("1", "4", "2025", "31", "3", "2026"), at("2025-04-01 00:00"), at("2026-04-01 00:00"), nil},
		{"custom: one day", now, custom("01", "06", "2026", "1", "6", "2026"), at("2026-06-01 00:00"), at("2026-06-02 00:00"), nil},
		{"custom: ends at the start of today", now, custom("1", "11", "2026", "31", "12", "2026"), at("2026-11-01 00:00"), today, nil},
		{"custom: from today (under way)", now, custom("27", "11", "2026", "27", "11", "2026"), at("2025-11-27 00:00"), today, []string{"from"}},
		{"custom: yesterday", now, custom("26", "11", "2026", "27", "11", "2026"), at("2026-11-26 00:00"), today, nil},
		{"custom: nothing given", now, url.Values{"period": {"custom"}}, at("2025-11-27 00:00"), today, []string{"from", "to"}},
		{"custom: no last day", now, custom("1", "4", "2025", "", "", ""), at("2025-11-27 00:00"), today, []string{"to"}},
		{"custom: not a date", now, custom("31", "2", "2026", "1", "3", "2026"), at("2025-11-27 00:00"), today, []string{"from"}},
		{"custom: 2-digit year", now, custom("1", "2", "26", "1", "3", "2026"), at("2025-11-27 00:00"), today, []string{"from"}},
		{"custom: backwards", now, custom("2", "3", "2026", "1", "3", "2026"), at("2025-11-27 00:00"), today, []string{"to"}},
		{"custom: in the future", now, custom("28", "11", "2026", "1", "12", "2026"), at("2025-11-27 00:00"), today, []string{"from"}},
		{"custom: over ten years", now, custom("1", "1", "2000", "1", "1", "2026"), at("2025-11-27 00:00"), today, []string{"from"}},
		{"unknown period", now, url.Values{"period": {"forever"}}, at("2025-11-27 00:00"), today, []string{"period"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to, f := reportPeriod(tc.q, tc.now)
			if !from.Equal(tc.from) || !to.Equal(tc.to) {
				t.Errorf("period %s to %s, want %s to %s", from.In(register.London), to.In(register.London), tc.from.In(register.London), tc.to.In(register.London))
			}
			if len(f.Errors) != len(tc.errors) {
				t.Fatalf("errors %v, want on %v", f.Errors, tc.errors)
			}
			for _, name := range tc.errors {
				if f.Errors[name] == "" {
					t.Errorf("no error on %s: %v", name, f.Errors)
				}
			}
			if len(f.Errors) > 0 && len(f.Summary) != len(f.Errors) {
				t.Errorf("error summary %v for errors %v", f.Summary, f.Errors)
			}
		})
	}
}

func TestPeriodQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"period=3m&from-day=1&x=y", "period=3m"},
		{"period=custom&from-day=1&from-month=4&from-year=2025&to-day=31&to-month=3&to-year=2026&csrf_token=z", "from-day=1&from-month=4&from-year=2025&period=custom&to-day=31&to-month=3&to-year=2026"},
	} {
		q, _ := url.ParseQuery(tc.in)
		if got := periodQuery(q); got != tc.want {
			t.Errorf("periodQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
