package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// errorBody is every error response: CONTRACT.md's {"error", "fields"},
// plus the existing record's id on a conflict.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
	ID     string            `json:"id,omitempty"`
}

// RetryAfterSeconds is the hint sent with 503: long enough for Temporal or
// the database to come back from a restart.
const RetryAfterSeconds = "5"

// writeJSON writes v as the response body with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError is the one place an error becomes an HTTP status. Messages of
// *register.Error are safe to show; anything else is logged and answered
// with a generic 500, since its text may say more than a client should see.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "the request body is too large"})
		return
	}
	if u, ok := store.Unreachable(err); ok {
		loggerFrom(r).WarnContext(r.Context(), "database unavailable", "error", err, "request_id", middleware.GetReqID(r.Context()))
		err = u
	}
	var e *register.Error
	if !errors.As(err, &e) {
		loggerFrom(r).ErrorContext(r.Context(), "internal error", "error", err, "request_id", middleware.GetReqID(r.Context()))
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error; the request id is in the X-Request-Id header"})
		return
	}
	body := errorBody{Error: e.Message}
	status := http.StatusInternalServerError
	switch e.Kind {
	case register.KindInvalid:
		status, body.Fields = http.StatusUnprocessableEntity, e.Fields
	case register.KindMalformed:
		status = http.StatusBadRequest
	case register.KindNotFound:
		status = http.StatusNotFound
	case register.KindConflict:
		status, body.ID = http.StatusConflict, e.ID
	case register.KindForbidden:
		status = http.StatusForbidden
	case register.KindUnavailable:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", RetryAfterSeconds)
	default:
		loggerFrom(r).ErrorContext(r.Context(), "internal error", "error", err, "request_id", middleware.GetReqID(r.Context()))
		body.Error = "internal error; the request id is in the X-Request-Id header"
	}
	writeJSON(w, status, body)
}

type loggerKey struct{}

// loggerFrom is the request's logger (set by the router), or the default.
func loggerFrom(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
