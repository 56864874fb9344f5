package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/api"
	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
)

// principal is who sends a request in the route × role matrix.
type principal struct {
	name  string
	email string // "" for no credentials at all
}

// principals: every role, and for professionals both one named on the
// record and one who is not.
var principals = []principal{
	{"anonymous", ""},
	{"coordinator", "coord@example.org"},
	{"named professional", "sw@example.org"},
	{"unnamed professional", "other@example.org"},
	{"manager of the named", "mgr@example.org"},
	{"commissioner", "comm@example.org"},
	{"auditor", "audit@example.org"},
}

// fixture is the record the matrix aims at: sw@ and nurse@ are named on
// it, sw@'s manager is mgr@, and sw@ owns one open action.
type matrixFixture struct{ person, action, cetr string }

// route is one route of the router and what each principal must get.
type policyRoute struct {
	method, pattern string // as chi reports them
	path            func(matrixFixture) string
	body            string
	web             bool  // a page: the principal signs in with a session, not a token
	want            []int // by principal, in the order of principals
}

func codes(c ...int) []int { return c }

// Statuses used below, named so that the table reads as a policy.
const (
	xOK         = http.StatusOK
	xCreated    = http.StatusCreated
	xNoContent  = http.StatusNoContent
	xSeeOther   = http.StatusSeeOther
	xNoAuth     = http.StatusUnauthorized
	xForbidden  = http.StatusForbidden
	xNotFound   = http.StatusNotFound
	xInvalid    = http.StatusUnprocessableEntity
	xBadRequest = http.StatusBadRequest
	xNoSignIn   = http.StatusServiceUnavailable
)

// bogus is a body every JSON route refuses with 422 (an unknown field)
// once the request is allowed this far, so no cell changes the record.
const bogusBody = `{"bogus": 1}`

// withToken is a form body holding only the page's CSRF token: every form
// has required fields, so an allowed request is answered with the form's
// errors and changes nothing.
const withToken = "csrf_token=TOKEN"

func pathOf(p string) func(matrixFixture) string { return func(matrixFixture) string { return p } }
func personPath(p string) func(matrixFixture) string {
	return func(f matrixFixture) string { return strings.ReplaceAll(p, "{id}", f.person) }
}
func cetrPath(p string) func(matrixFixture) string {
	return func(f matrixFixture) string {
		return strings.ReplaceAll(strings.ReplaceAll(p, "{id}", f.person), "{cetr_id}", f.cetr)
	}
}

func actionPath(p string) func(matrixFixture) string {
	return func(f matrixFixture) string {
		return strings.ReplaceAll(strings.ReplaceAll(p, "{id}", f.person), "{action_id}", f.action)
	}
}

// routes is the access policy of every route the router serves, for every
// principal (columns: anonymous, coordinator, named professional, unnamed
// professional, manager of the named, commissioner, auditor). A route
// missing here fails the test: a new route must say who may use it.
var apiPolicy = []policyRoute{
	// Anyone.
	{"GET", "/healthz", pathOf("/healthz"), "", false, codes(xOK, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"GET", "/readyz", pathOf("/readyz"), "", false, codes(xOK, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"POST", "/api/v1/self-referrals", pathOf("/api/v1/self-referrals"), bogusBody, false, codes(xInvalid, xInvalid, xInvalid, xInvalid, xInvalid, xInvalid, xInvalid)},

	// The JSON API: 401 without a token; 403 for a role that never may;
	// 404 for a record the user has no part in (guessing ids reveals
	// nothing).
	{"GET", "/api/v1/me", pathOf("/api/v1/me"), "", false, codes(xNoAuth, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"POST", "/api/v1/referrals", pathOf("/api/v1/referrals"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xInvalid, xInvalid, xForbidden, xForbidden)},
	{"GET", "/api/v1/people", pathOf("/api/v1/people"), "", false, codes(xNoAuth, xOK, xOK, xOK, xOK, xForbidden, xForbidden)},
	{"GET", "/api/v1/people.csv", pathOf("/api/v1/people.csv"), "", false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/api/v1/people/{id}/", personPath("/api/v1/people/{id}"), "", false, codes(xNoAuth, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"PATCH", "/api/v1/people/{id}/", personPath("/api/v1/people/{id}"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/api/v1/people/{id}/export", personPath("/api/v1/people/{id}/export"), "", false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/triage", personPath("/api/v1/people/{id}/triage"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/reviews", personPath("/api/v1/people/{id}/reviews"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"PUT", "/api/v1/people/{id}/rag", personPath("/api/v1/people/{id}/rag"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/actions", personPath("/api/v1/people/{id}/actions"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	// Completing an action: a coordinator or the action's owner (sw@); the
	// manager may see the record but does not own the action.
	{"POST", "/api/v1/people/{id}/actions/{action_id}/complete", actionPath("/api/v1/people/{id}/actions/{action_id}/complete"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/actions/{action_id}/cancel", actionPath("/api/v1/people/{id}/actions/{action_id}/cancel"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"PUT", "/api/v1/people/{id}/professionals", personPath("/api/v1/people/{id}/professionals"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/discharge", personPath("/api/v1/people/{id}/discharge"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	// C(E)TRs: booked and recorded by whoever may record a review;
	// cancelled, and the keyworker, consent, inpatient news and root-cause
	// outcome, by coordinators.
	{"POST", "/api/v1/people/{id}/cetrs", personPath("/api/v1/people/{id}/cetrs"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/cetrs/{cetr_id}/book", cetrPath("/api/v1/people/{id}/cetrs/{cetr_id}/book"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/cetrs/{cetr_id}/record", cetrPath("/api/v1/people/{id}/cetrs/{cetr_id}/record"), bogusBody, false, codes(xNoAuth, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/cetrs/{cetr_id}/cancel", cetrPath("/api/v1/people/{id}/cetrs/{cetr_id}/cancel"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"PUT", "/api/v1/people/{id}/keyworker", personPath("/api/v1/people/{id}/keyworker"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/consent", personPath("/api/v1/people/{id}/consent"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/consent/withdraw", personPath("/api/v1/people/{id}/consent/withdraw"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/inpatient", personPath("/api/v1/people/{id}/inpatient"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/people/{id}/root-cause", personPath("/api/v1/people/{id}/root-cause"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/api/v1/reports/summary", pathOf("/api/v1/reports/summary"), "", false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xOK, xForbidden)},
	{"GET", "/api/v1/reports/summary.csv", pathOf("/api/v1/reports/summary.csv"), "", false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xOK, xForbidden)},
	{"GET", "/api/v1/audit", pathOf("/api/v1/audit"), "", false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xOK)},

	// DSR meetings: coordinators manage series, meetings, agendas and
	// outcomes; the staff who see records see meetings (their own people
	// on the agenda only); the calendar feed's token is its credential.
	{"GET", "/api/v1/meeting-series", pathOf("/api/v1/meeting-series"), "", false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"PUT", "/api/v1/meeting-series/{series}", pathOf("/api/v1/meeting-series/matrix"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/api/v1/meeting-series/{series}/meetings", pathOf("/api/v1/meeting-series/nosuch/meetings"), "", false, codes(xNoAuth, xNotFound, xNotFound, xNotFound, xNotFound, xForbidden, xForbidden)},
	{"POST", "/api/v1/meeting-series/{series}/meetings", pathOf("/api/v1/meeting-series/nosuch/meetings"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/api/v1/meetings/{meeting}", pathOf("/api/v1/meetings/nosuch-20260101T000000Z"), "", false, codes(xNoAuth, xNotFound, xNotFound, xNotFound, xNotFound, xForbidden, xForbidden)},
	{"PATCH", "/api/v1/meetings/{meeting}", pathOf("/api/v1/meetings/nosuch-20260101T000000Z"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"PUT", "/api/v1/meetings/{meeting}/agenda", pathOf("/api/v1/meetings/nosuch-20260101T000000Z/agenda"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/meetings/{meeting}/people/{id}/outcome", personPath("/api/v1/meetings/nosuch-20260101T000000Z/people/{id}/outcome"), bogusBody, false, codes(xNoAuth, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/meetings/{meeting}/close", pathOf("/api/v1/meetings/nosuch-20260101T000000Z/close"), "", false, codes(xNoAuth, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/api/v1/me/calendar", pathOf("/api/v1/me/calendar"), "", false, codes(xNoAuth, xCreated, xCreated, xCreated, xCreated, xForbidden, xForbidden)},
	{"DELETE", "/api/v1/me/calendar", pathOf("/api/v1/me/calendar"), "", false, codes(xNoAuth, xNoContent, xNoContent, xNoContent, xNoContent, xForbidden, xForbidden)},
	{"GET", "/calendar.ics", pathOf("/calendar.ics?token=nosuch"), "", false, codes(xNotFound, xNotFound, xNotFound, xNotFound, xNotFound, xNotFound, xNotFound)},

	// The codec endpoint: coordinators only (here by token).
	{"POST", "/codec/encode", pathOf("/codec/encode"), `{"payloads": []}`, false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/codec/decode", pathOf("/codec/decode"), `{"payloads": []}`, false, codes(xNoAuth, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"OPTIONS", "/codec/encode", pathOf("/codec/encode"), "", false, codes(xNoAuth, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"OPTIONS", "/codec/decode", pathOf("/codec/decode"), "", false, codes(xNoAuth, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},

	// Sign-in and out (pages, with a session where the principal has
	// one). A form posted without its CSRF token is refused whoever sends
	// it; the OIDC callback does not exist without an issuer.
	{"GET", "/signin", pathOf("/signin"), "", true, codes(xOK, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"POST", "/signin", pathOf("/signin"), "", true, codes(xForbidden, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/signout", pathOf("/signout"), "", true, codes(xForbidden, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/auth/callback", pathOf("/auth/callback"), "", true, codes(xNotFound, xNotFound, xNotFound, xNotFound, xNotFound, xNotFound, xNotFound)},
}

// webRoutes are the pages (the web package): by session. Not signed in is
// sent to sign in; a signed-in role that never may is refused; a record
// the user has no part in is 404, as in the API. POSTs go without their
// CSRF token: refused for everyone who gets that far.
var webPolicy = []policyRoute{
	{"GET", "/favicon.ico", pathOf("/favicon.ico"), "", true, codes(xOK, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"GET", "/refer", pathOf("/refer"), "", true, codes(xOK, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"POST", "/refer", pathOf("/refer"), withToken, true, codes(xInvalid, xInvalid, xInvalid, xInvalid, xInvalid, xInvalid, xInvalid)},
	{"GET", "/refer/sent", pathOf("/refer/sent"), "", true, codes(xOK, xOK, xOK, xOK, xOK, xOK, xOK)},
	{"GET", "/", pathOf("/"), "", true, codes(xSeeOther, xOK, xOK, xOK, xOK, xSeeOther, xOK)}, // a commissioner's home is the reports
	{"GET", "/referrals/new", pathOf("/referrals/new"), "", true, codes(xSeeOther, xOK, xOK, xOK, xOK, xForbidden, xForbidden)},
	{"POST", "/referrals/new", pathOf("/referrals/new"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xInvalid, xInvalid, xForbidden, xForbidden)},
	{"GET", "/referrals/sent/{id}", personPath("/referrals/sent/{id}"), "", true, codes(xSeeOther, xOK, xOK, xOK, xOK, xForbidden, xForbidden)},
	{"GET", "/triage", pathOf("/triage"), "", true, codes(xSeeOther, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/", personPath("/people/{id}"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"GET", "/people/{id}/triage", personPath("/people/{id}/triage"), "", true, codes(xSeeOther, http.StatusConflict, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/triage", personPath("/people/{id}/triage"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/review", personPath("/people/{id}/review"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"POST", "/people/{id}/review", personPath("/people/{id}/review"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"GET", "/people/{id}/rating", personPath("/people/{id}/rating"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"POST", "/people/{id}/rating", personPath("/people/{id}/rating"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"GET", "/people/{id}/actions/new", personPath("/people/{id}/actions/new"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"POST", "/people/{id}/actions/new", personPath("/people/{id}/actions/new"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"GET", "/people/{id}/actions/{action_id}/complete", actionPath("/people/{id}/actions/{action_id}/complete"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/actions/{action_id}/complete", actionPath("/people/{id}/actions/{action_id}/complete"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/professionals", personPath("/people/{id}/professionals"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/professionals", personPath("/people/{id}/professionals"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/discharge", personPath("/people/{id}/discharge"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/discharge", personPath("/people/{id}/discharge"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/correct", personPath("/people/{id}/correct"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/correct", personPath("/people/{id}/correct"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/export", personPath("/people/{id}/export"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/meetings", pathOf("/meetings"), "", true, codes(xSeeOther, xOK, xOK, xOK, xOK, xForbidden, xForbidden)},
	{"GET", "/meetings/{meeting}", pathOf("/meetings/nosuch-20260101T000000Z"), "", true, codes(xSeeOther, xNotFound, xNotFound, xNotFound, xNotFound, xForbidden, xForbidden)},
	{"POST", "/meetings/{meeting}/people/{person}/not-discussed", personPath("/meetings/nosuch-20260101T000000Z/people/{id}/not-discussed"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/meetings/{meeting}/close", pathOf("/meetings/nosuch-20260101T000000Z/close"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/meetings/series/new", pathOf("/meetings/series/new"), "", true, codes(xSeeOther, xOK, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/meetings/series/new", pathOf("/meetings/series/new"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/meetings/series/{series}", pathOf("/meetings/series/nosuch"), "", true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/meetings/series/{series}", pathOf("/meetings/series/nosuch"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/meetings/series/{series}/extra", pathOf("/meetings/series/nosuch/extra"), "", true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/meetings/series/{series}/extra", pathOf("/meetings/series/nosuch/extra"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/meetings/{meeting}/change", pathOf("/meetings/nosuch-20260101T000000Z/change"), "", true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/meetings/{meeting}/change", pathOf("/meetings/nosuch-20260101T000000Z/change"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"POST", "/meetings/{meeting}/agenda", pathOf("/meetings/nosuch-20260101T000000Z/agenda"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xForbidden, xForbidden, xForbidden, xForbidden)},
	{"GET", "/calendar", pathOf("/calendar"), "", true, codes(xSeeOther, xOK, xOK, xOK, xOK, xForbidden, xForbidden)},
	{"POST", "/calendar", pathOf("/calendar"), withToken, true, codes(xSeeOther, xOK, xOK, xOK, xOK, xForbidden, xForbidden)},
	{"POST", "/calendar/revoke", pathOf("/calendar/revoke"), withToken, true, codes(xSeeOther, xSeeOther, xSeeOther, xSeeOther, xSeeOther, xForbidden, xForbidden)},
	{"GET", "/reports", pathOf("/reports"), "", true, codes(xSeeOther, xOK, xForbidden, xForbidden, xForbidden, xOK, xForbidden)},
	{"GET", "/reports/returns/{month}", pathOf("/reports/returns/2026-11"), "", true, codes(xSeeOther, xSeeOther, xForbidden, xForbidden, xForbidden, xSeeOther, xForbidden)},
	{"GET", "/people/{id}/cetrs/{cetr_id}/book", cetrPath("/people/{id}/cetrs/{cetr_id}/book"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"POST", "/people/{id}/cetrs/{cetr_id}/book", cetrPath("/people/{id}/cetrs/{cetr_id}/book"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"GET", "/people/{id}/cetrs/{cetr_id}/record", cetrPath("/people/{id}/cetrs/{cetr_id}/record"), "", true, codes(xSeeOther, xOK, xOK, xNotFound, xOK, xForbidden, xForbidden)},
	{"POST", "/people/{id}/cetrs/{cetr_id}/record", cetrPath("/people/{id}/cetrs/{cetr_id}/record"), withToken, true, codes(xSeeOther, xInvalid, xInvalid, xNotFound, xInvalid, xForbidden, xForbidden)},
	{"GET", "/people/{id}/cetrs/{cetr_id}/cancel", cetrPath("/people/{id}/cetrs/{cetr_id}/cancel"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/cetrs/{cetr_id}/cancel", cetrPath("/people/{id}/cetrs/{cetr_id}/cancel"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/keyworker", personPath("/people/{id}/keyworker"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/keyworker", personPath("/people/{id}/keyworker"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	// No admission waits for a root-cause review on the fixture: 404 past the role check.
	{"GET", "/people/{id}/root-cause", personPath("/people/{id}/root-cause"), "", true, codes(xSeeOther, xNotFound, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/root-cause", personPath("/people/{id}/root-cause"), withToken, true, codes(xSeeOther, xNotFound, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	// The fixture is not in hospital (blue): 409 past the role check.
	{"GET", "/people/{id}/inpatient", personPath("/people/{id}/inpatient"), "", true, codes(xSeeOther, http.StatusConflict, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/inpatient", personPath("/people/{id}/inpatient"), withToken, true, codes(xSeeOther, http.StatusConflict, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/consent", personPath("/people/{id}/consent"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/consent", personPath("/people/{id}/consent"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/people/{id}/consent/withdraw", personPath("/people/{id}/consent/withdraw"), "", true, codes(xSeeOther, xOK, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"POST", "/people/{id}/consent/withdraw", personPath("/people/{id}/consent/withdraw"), withToken, true, codes(xSeeOther, xInvalid, xForbidden, xNotFound, xForbidden, xForbidden, xForbidden)},
	{"GET", "/reports.csv", pathOf("/reports.csv"), "", true, codes(xSeeOther, xOK, xForbidden, xForbidden, xForbidden, xOK, xForbidden)},
}

// The static files: any method, for a file that does not exist.
func init() {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY", "CONNECT"} {
		webPolicy = append(webPolicy, policyRoute{m, "/static/*", pathOf("/static/no-such-file"), "", true,
			codes(xNotFound, xNotFound, xNotFound, xNotFound, xNotFound, xNotFound, xNotFound)})
	}
}

// routeKey names a route as chi.Walk does.
func routeKey(method, pattern string) string { return method + " " + pattern }

// walkRoutes lists every route the API's router serves.
func (s *stack) walkRoutes() []string {
	s.t.Helper()
	r, isChi := s.api.Config.Handler.(chi.Routes)
	if !isChi {
		s.t.Fatalf("the API handler is a %T, not a chi router", s.api.Config.Handler)
	}
	var out []string
	err := chi.Walk(r, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, routeKey(method, pattern))
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

var csrfInPage = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// browserFor is a cookie-keeping client signed in as email through the
// dev sign-in page ("" for one not signed in), and the CSRF token its
// pages' forms carry. It follows no redirect.
func (s *stack) browserFor(email string) (*http.Client, string) {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func() string {
		resp, err := c.Get(s.api.URL + "/signin")
		if err != nil {
			s.t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfInPage.FindSubmatch(page)
		if m == nil {
			s.t.Fatalf("no CSRF token on the sign-in page: %d %s", resp.StatusCode, page)
		}
		return string(m[1])
	}
	if email == "" {
		return c, token()
	}
	users, err := s.store.ListUsers(context.Background(), "")
	if err != nil {
		s.t.Fatal(err)
	}
	id := ""
	for _, u := range users {
		if u.Email == email {
			id = u.ID
		}
	}
	resp, err := c.PostForm(s.api.URL+"/signin", url.Values{"csrf_token": {token()}, "user": {id}})
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("sign in as %s: %d", email, resp.StatusCode)
	}
	return c, token()
}

// TestRouteRoleMatrix sends every route the router serves as every
// principal and checks the status against the policy above; then checks
// that each 404 for the unnamed professional was audited as refused.
func TestRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	// Self-referrals are limited per client over the form and the API
	// together: each principal's come from its own address, through a
	// trusted proxy.
	s := newStackEdit(t, defaultTiming(t), codec.GenerateKey(), func(c *config.Config) {
		var err error
		if c.TrustedProxies, err = config.ParsePrefixes("127.0.0.0/8, ::1"); err != nil {
			t.Fatal(err)
		}
	})
	id := s.referAndAccept(nhsNumber(101))
	var act struct{ ID string }
	s.must(http.StatusCreated, "coord@example.org", "POST", "/people/"+id+"/actions",
		map[string]any{"description": "Arrange respite", "owner_email": "sw@example.org", "due": time.Now().Add(48 * time.Hour).Format(time.RFC3339)}, &act)
	fx := matrixFixture{person: id, action: act.ID}
	// Accepted as red: a community C(E)TR is due.
	rec, err := s.store.GetPerson(context.Background(), id)
	if err != nil || len(rec.CETRs) == 0 {
		t.Fatalf("no C(E)TR due on a red record: %v %+v", err, rec.CETRs)
	}
	fx.cetr = rec.CETRs[0].ID

	all := append(slices.Clone(apiPolicy), webPolicy...)
	policy := map[string]policyRoute{}
	for _, r := range all {
		policy[routeKey(r.method, r.pattern)] = r
	}
	var missing []string
	served := map[string]bool{}
	for _, k := range s.walkRoutes() {
		served[k] = true
		if _, ok := policy[k]; !ok {
			missing = append(missing, k)
		}
	}
	for _, r := range apiPolicy {
		if !served[routeKey(r.method, r.pattern)] {
			t.Errorf("%s %s is in the policy but not served", r.method, r.pattern)
		}
	}
	if len(missing) > 0 {
		t.Errorf("routes with no access policy in this test (add them to routes or webRoutes):\n  %s", strings.Join(missing, "\n  "))
	}

	browsers, tokens := map[string]*http.Client{}, map[string]string{}
	for _, p := range principals {
		browsers[p.email], tokens[p.email] = s.browserFor(p.email)
	}
	cells, bad := 0, 0
	var table strings.Builder
	refusals := 0
	roleRefusals, roleRefusalsOnRecord := 0, 0 // the commissioner's 403s from the API
	for _, r := range all {
		if !served[routeKey(r.method, r.pattern)] {
			continue // a page not (yet) mounted
		}
		fmt.Fprintf(&table, "%-8s %-55s", r.method, r.pattern)
		for i, p := range principals {
			body := strings.ReplaceAll(r.body, "TOKEN", url.QueryEscape(tokens[p.email]))
			req, err := http.NewRequest(r.method, s.api.URL+r.path(fx), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if r.path(fx) == "/refer" || r.path(fx) == api.SelfReferralPath {
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
			}
			c := http.DefaultClient
			if r.web {
				c = browsers[p.email]
				if r.method == "POST" {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
			} else {
				req.Header.Set("Content-Type", "application/json")
				if p.email != "" {
					req.Header.Set("Authorization", "Bearer "+s.tokens[p.email])
				}
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			cells++
			mark := " "
			if resp.StatusCode != r.want[i] {
				bad++
				mark = "!"
				t.Errorf("%s %s as %s: %d, want %d", r.method, r.path(fx), p.name, resp.StatusCode, r.want[i])
			}
			if p.email == "other@example.org" && resp.StatusCode == xNotFound && strings.Contains(r.pattern, "{id}") {
				refusals++
			}
			if p.email == "comm@example.org" && !r.web && resp.StatusCode == xForbidden {
				roleRefusals++
				if strings.Contains(r.pattern, "{id}") {
					roleRefusalsOnRecord++
				}
			}
			fmt.Fprintf(&table, " %d%s", resp.StatusCode, mark)
		}
		table.WriteString("\n")
	}
	t.Logf("route × principal matrix: %d routes × %d principals = %d cells, %d wrong\n%s", cells/len(principals), len(principals), cells, bad, table.String())

	// Every 404 the unnamed professional met on the record is in the audit
	// log as a refusal, against the person.
	var audited int
	s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'refused' AND person_id = $1 AND user_email = 'other@example.org'
		AND detail NOT LIKE '%not for the role%'`, id).Scan(&audited)
	if refusals == 0 || audited != refusals {
		t.Errorf("unnamed professional: %d refusals (404) on the record, %d audited as refused", refusals, audited)
	}
	// So is every 403 the commissioner met in the API, against the person
	// when the URL names one.
	var byRole, byRoleOnRecord int
	s.store.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE person_id = $1) FROM audit_log
		WHERE action = 'refused' AND user_email = 'comm@example.org' AND detail LIKE '%not for the role commissioner'`, id).Scan(&byRole, &byRoleOnRecord)
	if roleRefusals == 0 || byRole != roleRefusals || byRoleOnRecord != roleRefusalsOnRecord {
		t.Errorf("commissioner: %d refusals (403) in the API, %d on the record; audited %d, %d on the record",
			roleRefusals, roleRefusalsOnRecord, byRole, byRoleOnRecord)
	}
}
