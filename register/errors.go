package register

import (
	"errors"
	"fmt"
)

// Kind says what sort of failure an error is, so the HTTP layer can map it to
// a status in one place.
type Kind int

const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindConflict
	KindForbidden
	KindUnavailable
	KindMalformed // the body is not one well-formed JSON value (HTTP 400)
)

// Error is an application error whose message is safe to show to the user.
type Error struct {
	Kind    Kind
	Message string
	// Fields names each field at fault, by path (person.nhs_number,
	// professionals[0].email), with the problem.
	Fields map[string]string
	// ID is the existing person's id on a duplicate referral.
	ID string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s (%d fields)", e.Message, len(e.Fields))
}

// Invalid returns a KindInvalid error naming the fields at fault.
func Invalid(fields map[string]string) *Error {
	return &Error{Kind: KindInvalid, Message: "the request has problems: see fields", Fields: fields}
}

// Invalidf returns a KindInvalid error with one field.
func Invalidf(field, format string, args ...any) *Error {
	return Invalid(map[string]string{field: fmt.Sprintf(format, args...)})
}

// NotFound returns a KindNotFound error.
func NotFound(what string) *Error { return &Error{Kind: KindNotFound, Message: what + " not found"} }

// Conflict returns a KindConflict error.
func Conflict(msg, id string) *Error { return &Error{Kind: KindConflict, Message: msg, ID: id} }

// Forbidden returns a KindForbidden error.
func Forbidden(msg string) *Error { return &Error{Kind: KindForbidden, Message: msg} }

// Unavailable returns a KindUnavailable error.
func Unavailable(msg string) *Error { return &Error{Kind: KindUnavailable, Message: msg} }

// KindOf returns the kind of err, KindInternal when it is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
