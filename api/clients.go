package api

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/go-chi/httprate"
)

// trustProxies rewrites a request's RemoteAddr to the client that the
// X-Forwarded-For header names, when (and only when) the request comes
// from one of the trusted proxies (DSR_TRUSTED_PROXIES). The header is read
// from the right: each trusted proxy appends the address it received from,
// so the first address from the right that is not a trusted proxy is the
// client; anything to its left was written by the client and is ignored.
// Without trusted proxies the header is ignored, so a client cannot choose
// the address the rate limit and the audit log see.
func trustProxies(trusted []netip.Prefix) func(http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		if len(trusted) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil || !isTrusted(peer.Addr()) {
				next.ServeHTTP(w, r)
				return
			}
			var hops []string
			for _, h := range r.Header.Values("X-Forwarded-For") {
				hops = append(hops, strings.Split(h, ",")...)
			}
			client := peer.Addr()
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break // a malformed hop: trust nothing further left
				}
				client = a.Unmap()
				if !isTrusted(client) {
					break
				}
			}
			r2 := r.Clone(r.Context())
			r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
			next.ServeHTTP(w, r2)
		})
	}
}

// selfReferralLimiter is the one limit on self-referrals per client
// address (IPv6 by /64), shared by the JSON endpoint and the web form, so
// that using both does not double the allowance. Requests refused by the
// limit, or refused before the limit is reached (a Content-Type other than
// JSON on the endpoint, a form without its CSRF token), do not count;
// requests whose content is checked do, refused or not, so NHS numbers
// cannot be tried at speed.
type selfReferralLimiter struct{ rl *httprate.RateLimiter }

func newSelfReferralLimiter() *selfReferralLimiter {
	return &selfReferralLimiter{rl: httprate.NewRateLimiter(SelfReferralLimit, SelfReferralWindow)}
}

// middleware counts the request against its client's allowance, or answers
// with refuse when the allowance is used up.
func (l *selfReferralLimiter) middleware(refuse http.HandlerFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if l.rl.OnLimit(w, r, httprate.CanonicalizeIP(clientAddr(r))) {
				refuse(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireJSON refuses a body that is not declared application/json with
// 415. Browsers send text/plain, form and multipart bodies across sites
// without asking; application/json needs a CORS preflight, which the
// register never grants, so this keeps cross-site posts off the endpoint.
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "the body must be JSON, sent with Content-Type: application/json"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
