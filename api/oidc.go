package api

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
)

// Staff sign-in by OpenID Connect (authorisation code flow with PKCE, state
// and nonce), for any conforming provider: NHS CIS2, Microsoft Entra ID,
// Keycloak. The provider says who someone is (the ID token's email) and
// which roles it grants them (the claim DSR_OIDC_ROLE_CLAIM, mapped by
// DSR_OIDC_ROLE_MAP); the register decides what they may see. A person is
// let in only when both agree: their email is a user of the register
// (dsr user add), and the provider grants that user's register role. So
// neither a stale group at the provider nor a stale row here gives anyone
// more than both say. With DSR_OIDC_ROLE_CLAIM empty the register's role
// alone decides.

// oidcFlowTTL bounds the time between leaving for the provider and coming
// back.
const oidcFlowTTL = 10 * time.Minute

type oidcClient struct {
	cfg  config.OIDC
	http *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// newOIDC returns nil when no issuer is configured.
func newOIDC(cfg config.OIDC) *oidcClient {
	if cfg.Issuer == "" {
		return nil
	}
	return &oidcClient{cfg: cfg, http: &http.Client{Timeout: 10 * time.Second}}
}

// setup discovers the provider on first use, and again after a failure: the
// register starts even when the provider is down.
func (o *oidcClient) setup() (*oidc.Provider, oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		// The provider keeps this context to fetch its signing keys later,
		// so it must outlive the request; the client's timeout bounds each
		// fetch.
		ctx := oidc.ClientContext(context.Background(), o.http)
		p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			return nil, oauth2.Config{}, fmt.Errorf("oidc: discover %s: %w", o.cfg.Issuer, err)
		}
		o.provider = p
	}
	return o.provider, oauth2.Config{
		ClientID:     o.cfg.ClientID,
		ClientSecret: o.cfg.ClientSecret,
		Endpoint:     o.provider.Endpoint(),
		RedirectURL:  o.cfg.RedirectURL,
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}, nil
}

// oidcFlow is what the browser carries to the provider and back, in a
// short-lived HttpOnly cookie: it ties the callback to this browser.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

// oidcStart sends the browser to the provider.
func (s *server) oidcStart(w http.ResponseWriter, r *http.Request, o *oidcClient, next string) {
	_, oc, err := o.setup()
	if err != nil {
		loggerFrom(r).ErrorContext(r.Context(), "identity provider unreachable", "error", err)
		writePage(w, http.StatusServiceUnavailable, messageTemplate, map[string]any{
			"Title": "Sign-in is unavailable", "Message": "The identity provider cannot be reached just now. Please try again shortly.",
		})
		return
	}
	f := oidcFlow{State: randomID(), Nonce: randomID(), Verifier: oauth2.GenerateVerifier(), Next: next}
	raw, _ := json.Marshal(f)
	s.setCookie(w, "dsr_oidc", base64.RawURLEncoding.EncodeToString(raw), oidcFlowTTL)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, oc.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// oidcCallback finishes sign-in: it checks the state, exchanges the code
// (with the PKCE verifier), verifies the ID token and its nonce, and lets
// the person in if the register and the provider agree on who they are.
func (s *server) oidcCallback(w http.ResponseWriter, r *http.Request, o *oidcClient) {
	if o == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such page"})
		return
	}
	refuse := func(status int, msg string, err error) {
		if err != nil {
			loggerFrom(r).WarnContext(r.Context(), "sign-in failed", "error", err)
		}
		writePage(w, status, messageTemplate, map[string]any{"Title": "You could not be signed in", "Message": msg})
	}
	s.setCookie(w, "dsr_oidc", "", -1)
	var f oidcFlow
	raw, err := base64.RawURLEncoding.DecodeString(s.cookie(r, "dsr_oidc"))
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" {
		refuse(http.StatusBadRequest, "The sign-in took too long or was started in another browser. Please sign in again.", nil)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		refuse(http.StatusBadRequest, "The sign-in did not match this browser. Please sign in again.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		refuse(http.StatusForbidden, "The identity provider did not sign you in.", fmt.Errorf("provider error %q", e))
		return
	}
	provider, oc, err := o.setup()
	if err != nil {
		refuse(http.StatusServiceUnavailable, "The identity provider cannot be reached just now. Please try again shortly.", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), o.http)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		refuse(http.StatusBadGateway, "The identity provider did not confirm the sign-in. Please sign in again.", fmt.Errorf("exchange code: %w", err))
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idTok, err := provider.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(ctx, rawID)
	if err != nil {
		refuse(http.StatusBadGateway, "The identity provider's answer could not be verified.", fmt.Errorf("verify id token: %w", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idTok.Nonce), []byte(f.Nonce)) != 1 {
		refuse(http.StatusBadRequest, "The sign-in did not match this browser. Please sign in again.", errors.New("nonce mismatch"))
		return
	}
	var claims map[string]any
	if err := idTok.Claims(&claims); err != nil {
		refuse(http.StatusBadGateway, "The identity provider's answer could not be read.", err)
		return
	}
	email, ok := claimEmail(claims)
	if !ok {
		refuse(http.StatusForbidden, "The identity provider did not say your (verified) email address.", nil)
		return
	}
	a := register.Actor{Email: email, ClientAddr: clientAddr(r)}
	// Matched on the provider's account (issuer and subject), bound at the
	// first sign-in by email: a second account claiming the email is not
	// the same person.
	u, err := s.deps.Store.UserForOIDC(r.Context(), idTok.Issuer+" "+idTok.Subject, email)
	if register.KindOf(err) == register.KindNotFound {
		_ = s.deps.Store.Audit(r.Context(), a, "refused", "", nil, "sign-in refused: not a user of the register")
		refuse(http.StatusForbidden, "You are not a user of this register. Ask the register's coordinator to add you.", nil)
		return
	}
	if register.KindOf(err) == register.KindForbidden {
		_ = s.deps.Store.Audit(r.Context(), a, "refused", "", nil, "sign-in refused: the email's user signs in with another identity-provider account")
		refuse(http.StatusForbidden, "This account at your identity provider is not the one this register knows for your email. Ask the register's coordinator.", nil)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	a = register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role, ClientAddr: clientAddr(r)}
	if o.cfg.RoleClaim != "" {
		granted := ClaimRoles(claims, o.cfg.RoleClaim, o.cfg.RoleMap)
		if !slices.Contains(granted, u.Role) {
			_ = s.deps.Store.Audit(r.Context(), a, "refused", "", nil,
				fmt.Sprintf("sign-in refused: the identity provider grants %v, the register says %s", granted, u.Role))
			refuse(http.StatusForbidden, "Your organisation has not given you the "+u.Role+" role for this register. Ask the register's coordinator.", nil)
			return
		}
	}
	s.startSession(w, r, u, "oidc", localPath(f.Next))
}

// claimEmail is the person's email from the ID token: "email" unless the
// provider says it is not verified, else an email-shaped
// preferred_username or upn (Entra ID puts it there).
func claimEmail(claims map[string]any) (string, bool) {
	if v, ok := claims["email_verified"].(bool); ok && !v {
		return "", false
	}
	for _, k := range []string{"email", "preferred_username", "upn"} {
		if e, ok := claims[k].(string); ok {
			if e, err := register.NormaliseEmail(e); err == nil {
				return e, true
			}
		}
	}
	return "", false
}

// ClaimRoles maps the values of the role claim (a dotted path such as
// "roles" or "realm_access.roles"; a string or a list of strings) to
// register roles through roleMap, dropping values it does not know, in
// the order found, without repeats.
func ClaimRoles(claims map[string]any, claim string, roleMap map[string]string) []string {
	var v any = claims
	for _, part := range strings.Split(claim, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	var values []string
	switch x := v.(type) {
	case string:
		values = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				values = append(values, s)
			}
		}
	}
	var roles []string
	for _, val := range values {
		if role, ok := roleMap[val]; ok && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	return roles
}
