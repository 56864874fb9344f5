package api

import (
	"net/http"
	"strings"
)

// ContentSecurityPolicy allows nothing inline and nothing from elsewhere:
// pages load their scripts, styles and images from this server only, and
// may not be framed.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every response carries, error pages
// and 404s included. HSTS is sent only when the register is served over
// HTTPS (DSR_BASE_URL), since over plain HTTP a browser ignores it and a
// wrong one would lock out a dev server on localhost.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	hsts := strings.HasPrefix(s.deps.Config.BaseURL, "https://")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}
