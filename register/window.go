package register

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Window is a daily delivery window for advance reminders (review-due,
// action-due, cetr-due), as times of day in London: From inclusive, To
// exclusive, offsets from midnight on the wall clock. The zero Window is
// off: a reminder goes at exactly due − ReminderLead.
//
// With a window, each person's reminders go at their own stable point in
// it (a hash of the person id, so everyone's day is spread evenly and a
// person hears at the same time each day), on the last day whose point is
// at or before due − ReminderLead. So nobody is told later than the lead
// allows; they may be told up to a day earlier. A reminder date on which
// ten thousand reviews fall is then mailed across the window, not in the
// same second. Overdue notices and escalations are not moved: they report
// a deadline passing, and go when it passes.
type Window struct {
	From time.Duration `json:"from"`
	To   time.Duration `json:"to"`
}

// On reports whether the window is set.
func (w Window) On() bool { return w.To > w.From }

// Len is the window's length.
func (w Window) Len() time.Duration { return w.To - w.From }

// String is the window as ParseWindow reads it.
func (w Window) String() string {
	if !w.On() {
		return ""
	}
	return clockOf(w.From) + "-" + clockOf(w.To)
}

func clockOf(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// ParseWindow reads "HH:MM-HH:MM" (seconds optional: "HH:MM:SS"), times
// of day in London with the first before the second, both within one day;
// "" is no window.
func ParseWindow(s string) (Window, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Window{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not a window: write it as from-to in London time, e.g. 08:00-10:00", s)
	}
	var w Window
	var err error
	if w.From, err = parseClock(from); err != nil {
		return Window{}, err
	}
	if w.To, err = parseClock(to); err != nil {
		return Window{}, err
	}
	if !w.On() {
		return Window{}, fmt.Errorf("%q: the window must end after it starts, on the same day (e.g. 08:00-10:00)", s)
	}
	return w, nil
}

func parseClock(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "24:00" {
		return 24 * time.Hour, nil
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil && len(s) == len(layout) {
			return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, nil
		}
	}
	return 0, fmt.Errorf("%q is not a time of day (HH:MM, or HH:MM:SS)", s)
}

// start is the window's opening on the London calendar day of t, read on
// the wall clock (08:00 stays 08:00 across the clock changes).
func (w Window) start(t time.Time) time.Time {
	y, m, d := t.In(London).Date()
	return time.Date(y, m, d, 0, 0, int(w.From/time.Second), int(w.From%time.Second), London)
}

// offset is the person's stable point within the window.
func (w Window) offset(personID string) time.Duration {
	sum := sha256.Sum256([]byte("dsr reminder window\x00" + personID))
	return time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(w.Len()))
}

// RemindAt is when a person's advance reminder for something due at due
// goes out: due − ReminderLead, or with a window the person's point in it
// on the last day where that is not later.
func (t Timing) RemindAt(personID string, due time.Time) time.Time {
	at := due.Add(-t.ReminderLead)
	w := t.ReminderWindow
	if !w.On() {
		return at
	}
	s := w.start(at)
	if slot := s.Add(w.offset(personID)); !slot.After(at) {
		return slot.UTC()
	}
	y, m, d := s.Date()
	return w.start(time.Date(y, m, d-1, 12, 0, 0, 0, London)).Add(w.offset(personID)).UTC()
}

// FirstQuietDue is the earliest due moment whose advance reminder, for
// every person, falls at or after now: a review planned on import for this
// moment or later does not send its reminder on import day.
func (t Timing) FirstQuietDue(now time.Time) time.Time {
	w := t.ReminderWindow
	if !w.On() {
		return now.Add(t.ReminderLead)
	}
	// The next opening at or after now; every point of that day's window is
	// then at or after now, and a reminder moment at or after the window's
	// close puts everyone's point on that day or later.
	s := w.start(now)
	if s.Before(now) {
		y, m, d := s.Date()
		s = w.start(time.Date(y, m, d+1, 12, 0, 0, 0, London))
	}
	return s.Add(w.Len()).Add(t.ReminderLead).UTC()
}
