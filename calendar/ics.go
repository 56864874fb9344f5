// Package calendar writes the DSR meeting's iCalendar invitations and each
// user's private calendar feed with golang-ical. Nothing personal goes in:
// the meeting's series name, times, place and links only.
package calendar

import (
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/bsw-dsr/dsr/register"
)

// TZID is the time zone the register's times are written in.
const TZID = "Europe/London"

const prodID = "-//BSW DSR//Dynamic Support Register//EN"

// Invite is one meeting's invitation.
type Invite struct {
	// UID stays the same for the meeting whatever changes (its stable id
	// and the register's domain); Sequence rises on every change.
	UID       string
	Sequence  int
	Cancelled bool
	Start     time.Time
	End       time.Time
	Summary   string // the series' name: never a person's
	Location  string // place or video link
	URL       string // the agenda page, behind sign-in
	Organizer string // the register's sending address
	Attendees []string
	Stamp     time.Time // DTSTAMP: when this version was made
}

// UID is the invitation UID of a meeting.
func UID(meetingID, domain string) string { return meetingID + "@" + domain }

// london writes t as London local time for a TZID'd DATE-TIME.
func london(t time.Time) string { return t.In(register.London).Format("20060102T150405") }

// addLondon adds the VTIMEZONE for Europe/London (GMT in winter, BST from
// the last Sunday of March to the last Sunday of October), so clients
// without the Olson database read the times right.
func addLondon(cal *ics.Calendar) {
	tz := cal.AddTimezone(TZID)
	std := tz.AddStandard()
	std.SetProperty(ics.ComponentPropertyDtStart, "19701025T020000")
	std.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), "+0100")
	std.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), "+0000")
	std.SetProperty(ics.ComponentProperty(ics.PropertyTzname), "GMT")
	std.SetProperty(ics.ComponentPropertyRrule, "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")
	day := &ics.Daylight{}
	day.SetProperty(ics.ComponentPropertyDtStart, "19700329T010000")
	day.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), "+0000")
	day.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), "+0100")
	day.SetProperty(ics.ComponentProperty(ics.PropertyTzname), "BST")
	day.SetProperty(ics.ComponentPropertyRrule, "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU")
	tz.Components = append(tz.Components, day)
}

// Invitation writes the iTIP message for inv: METHOD:REQUEST, or
// METHOD:CANCEL when the meeting is cancelled.
func Invitation(inv Invite) (string, error) {
	if inv.UID == "" || inv.Start.IsZero() || !inv.End.After(inv.Start) {
		return "", fmt.Errorf("calendar: invitation needs a UID and a start before its end")
	}
	cal := ics.NewCalendarFor("BSW DSR")
	cal.SetProductId(prodID)
	method, status := ics.MethodRequest, ics.ObjectStatusConfirmed
	if inv.Cancelled {
		method, status = ics.MethodCancel, ics.ObjectStatusCancelled
	}
	cal.SetMethod(method)
	addLondon(cal)
	ev := cal.AddEvent(inv.UID)
	ev.SetDtStampTime(inv.Stamp)
	ev.SetSequence(inv.Sequence)
	ev.SetProperty(ics.ComponentPropertyDtStart, london(inv.Start), ics.WithTZID(TZID))
	ev.SetProperty(ics.ComponentPropertyDtEnd, london(inv.End), ics.WithTZID(TZID))
	ev.SetSummary(inv.Summary)
	ev.SetStatus(status)
	if inv.Location != "" {
		ev.SetLocation(inv.Location)
	}
	if inv.URL != "" {
		ev.SetURL(inv.URL)
		ev.SetDescription("Agenda (sign in to see it): " + inv.URL)
	}
	if inv.Organizer != "" {
		ev.SetOrganizer("mailto:" + inv.Organizer)
	}
	for _, a := range inv.Attendees {
		ev.AddAttendee("mailto:"+a, ics.CalendarUserTypeIndividual, ics.ParticipationRoleReqParticipant,
			ics.ParticipationStatusNeedsAction, ics.WithRSVP(true))
	}
	return cal.Serialize(), nil
}

// Event is one entry of a calendar feed.
type Event struct {
	UID      string
	Summary  string // what it is ("Review date", "Action due", a series' name): never a person
	Start    time.Time
	End      time.Time // zero: a 30-minute entry
	URL      string
	Location string
}

// Feed writes a subscribable calendar (no METHOD: it is published, not an
// invitation).
func Feed(name string, events []Event, stamp time.Time) string {
	cal := ics.NewCalendarFor("BSW DSR")
	cal.SetProductId(prodID)
	cal.SetXWRCalName(name)
	cal.SetXPublishedTTL("PT1H")
	addLondon(cal)
	for _, e := range events {
		ev := cal.AddEvent(e.UID)
		ev.SetDtStampTime(stamp)
		end := e.End
		if end.IsZero() {
			end = e.Start.Add(30 * time.Minute)
		}
		ev.SetProperty(ics.ComponentPropertyDtStart, london(e.Start), ics.WithTZID(TZID))
		ev.SetProperty(ics.ComponentPropertyDtEnd, london(end), ics.WithTZID(TZID))
		ev.SetSummary(e.Summary)
		if e.URL != "" {
			ev.SetURL(e.URL)
		}
		if e.Location != "" {
			ev.SetLocation(e.Location)
		}
	}
	return cal.Serialize()
}

// ContentType is the MIME type of an invitation with its method.
func ContentType(cancelled bool) string {
	if cancelled {
		return `text/calendar; method=CANCEL`
	}
	return `text/calendar; method=REQUEST`
}

// Domain is the host part of an address, for UIDs.
func Domain(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok && d != "" {
		return d
	}
	return "dsr.invalid"
}
