package web

import (
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
)

// The confirmation tells the referrer when reminders come: with a delivery
// window, at least the lead ahead and within the window.
func TestSentPageReminderWording(t *testing.T) {
	for _, tc := range []struct {
		window   register.Window
		from, to string
	}{
		{},
		{register.Window{From: 8 * time.Hour, To: 10*time.Hour + 30*time.Minute}, "08:00", "10:30"},
	} {
		var c config.Config
		c.Timing = register.Timing{ReminderLead: 3 * 24 * time.Hour, TriageWithin: 5 * 24 * time.Hour, ReminderWindow: tc.window}
		p := (&server{d: Deps{Config: c}}).sentPage(false)
		if p.ReminderFor != "3 days" || p.ReminderFrom != tc.from || p.ReminderTo != tc.to {
			t.Errorf("window %v: reminders %q, from %q to %q; want 3 days, from %q to %q", tc.window, p.ReminderFor, p.ReminderFrom, p.ReminderTo, tc.from, tc.to)
		}
	}
}
