// Package mail sends the register's notices over SMTP with go-mail and
// renders their text and HTML.
package mail

import "context"

// Message is one email ready to send.
type Message struct {
	To       []string
	Kind     string // X-DSR-Kind
	PersonID string // X-DSR-Person; empty for digests
	Subject  string
	Text     string
	HTML     string
	// MessageID makes a resend after a crash recognisable to the receiver.
	MessageID string
}

// Sender sends one message; an error means it was not accepted.
type Sender interface {
	Send(ctx context.Context, m Message) error
}
