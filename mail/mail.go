// Package mail sends the register's notices over SMTP with go-mail and
// renders their text and HTML.
package mail

import (
	"context"
	"time"
)

// Message is one email ready to send: one message to all of To.
type Message struct {
	To       []string
	ReplyTo  string // optional
	Kind     string // X-DSR-Kind
	PersonID string // X-DSR-Person; empty for digests
	Subject  string
	Text     string // required: every notice has a plain-text part
	HTML     string // optional alternative
	// MessageID is the notice's stable key (person, kind, occasion). The
	// sender hashes it into the Message-ID header, so a resend after a crash
	// carries the same Message-ID and the receiver can recognise it. Empty
	// means a random Message-ID.
	MessageID string
	// Date is the Date header; zero means now.
	Date time.Time
	// Headers are extra headers. They cannot replace the ones above.
	Headers map[string]string
	// Calendar is an iCalendar invitation sent as a text/calendar
	// alternative with CalendarMethod (REQUEST or CANCEL), so mail clients
	// show it as an invitation; empty for none.
	Calendar       string
	CalendarMethod string
}

// Sender sends messages. Send sends one message to all of its recipients
// and an error means it was not accepted. SendEach sends a copy to each
// recipient alone and says what became of each, so that one address the
// server refuses does not hold up the others. IsPermanent tells a rejection
// that retrying will not cure.
type Sender interface {
	Send(ctx context.Context, m Message) error
	SendEach(ctx context.Context, m Message) []Delivery
}

// Delivery is what became of one recipient's copy: Err is nil when the
// server accepted it.
type Delivery struct {
	To  string
	Err error
}
