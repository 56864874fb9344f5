package report

import (
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// Reports count whole days in London. The register at the end of a period
// is a snapshot at a London midnight, and the latest snapshot is the start
// of today: a report never counts a day still under way. Without this, two
// reports a second apart around one acceptance (or a rating change, or a
// discharge) would differ by that one person, revealing their rating, area
// and age band even though each report on its own hides small counts.

// StartOfDay is 00:00 in London of the day t falls on there, in UTC.
func StartOfDay(t time.Time) time.Time {
	l := t.In(register.London)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, register.London).UTC()
}

// Latest is the latest end a report may have at now: the start of today.
func Latest(now time.Time) time.Time { return StartOfDay(now) }

// DayEnd is the end of a reporting period that should take in the whole of
// day (a civil date read in London): the start of the next day, but never
// later than Latest(now).
func DayEnd(day, now time.Time) time.Time {
	l := day.In(register.London)
	end := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, register.London).UTC()
	return earlier(end, Latest(now))
}

// RoundTo rounds a requested end instant down to the start of its London
// day, and to no later than Latest(now).
func RoundTo(to, now time.Time) time.Time { return earlier(StartOfDay(to), Latest(now)) }

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// RetentionNote says why a summary reaching back past the retention horizon
// undercounts.
const RetentionNote = "closed records are deleted after DSR_RETAIN_CLOSED_FOR: people whose episode closed before incomplete_before are no longer counted"

// RetentionHorizon is the moment before which closed episodes may have been
// deleted (retain before now), and whether a period from from reaches back
// before it. retain 0 (retention off) means never.
func RetentionHorizon(retain time.Duration, from, now time.Time) (time.Time, bool) {
	if retain <= 0 {
		return time.Time{}, false
	}
	h := now.UTC().Add(-retain).Truncate(time.Second)
	return h, from.Before(h)
}
