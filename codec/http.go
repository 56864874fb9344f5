package codec

import (
	"net/http"

	"go.temporal.io/sdk/converter"
)

// maxRequestBytes bounds a codec request. Temporal limits one payload to
// 2 MiB by default and the UI sends a page of them at a time.
const maxRequestBytes = 32 << 20

// Handler serves Temporal's codec server protocol: POST .../encode and
// POST .../decode with a {"payloads": [...]} JSON body, as the Temporal UI
// and CLI call it. Mount it behind authentication: whoever reaches it can
// read every payload.
func Handler(c *Codec) http.Handler {
	h := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		h.ServeHTTP(w, r)
	})
}

// WithCORS lets the Temporal UI, served from allowedOrigin (for example
// "http://localhost:8233"), call h from the browser: it answers preflight
// requests itself and adds the CORS headers to the others. Requests from any
// other origin get no CORS headers, so the browser refuses them. Credentials
// are allowed because the UI forwards the operator's Authorization header.
func WithCORS(h http.Handler, allowedOrigin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if origin == "" || allowedOrigin == "" || origin != allowedOrigin {
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				// A preflight from elsewhere: refuse without reaching h.
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
