package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/bsw-dsr/dsr/config"
)

// staff is a person at the identity provider: an email and the values of
// the "roles" claim (as Microsoft Entra ID sends app roles).
type staff struct {
	mockoidc.MockUser
	Roles []string
}

type staffClaims struct {
	*mockoidc.IDTokenClaims
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Roles         []string `json:"roles,omitempty"`
}

func (u *staff) Claims(_ []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &staffClaims{IDTokenClaims: c, Email: u.Email, EmailVerified: u.EmailVerified, Roles: u.Roles}, nil
}

// The whole OIDC sign-in against a running OpenID provider in the test
// (oauth2-proxy's mockoidc: discovery, JWKS, RS256-signed ID tokens, the
// code flow with PKCE). go-oidc does the real discovery and verification.
func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Shutdown() })
	ws := newWebStack(t, func(c *config.Config) {
		c.DevSignIn = true // ignored: an issuer is configured
		c.OIDC.Issuer = idp.Issuer()
		c.OIDC.ClientID = idp.ClientID
		c.OIDC.ClientSecret = idp.ClientSecret
		c.OIDC.RedirectURL = c.BaseURL + "/auth/callback"
		c.OIDC.RoleMap["DSR.Coordinator"] = "coordinator"
	})

	// signIn follows the redirects by hand: to the provider, which signs the
	// queued person in, and back to our callback. It returns the callback's
	// answer.
	signIn := func(c *http.Client, who *staff) (*http.Response, string) {
		t.Helper()
		idp.QueueUser(who)
		resp, body := ws.get(c, "/signin?next=/whoami")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET /signin: %d %s", resp.StatusCode, body)
		}
		auth := resp.Header.Get("Location")
		for _, p := range []string{"code_challenge_method=S256", "nonce=", "state=", "scope=openid"} {
			if !strings.Contains(auth, p) {
				t.Errorf("authorisation URL lacks %s: %s", p, auth)
			}
		}
		resp, err := c.Get(auth)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(back, ws.url+"/auth/callback?") {
			t.Fatalf("provider answered %d to %q", resp.StatusCode, back)
		}
		return ws.get(c, strings.TrimPrefix(back, ws.url))
	}
	user := func(email string, roles ...string) *staff {
		return &staff{MockUser: mockoidc.MockUser{Subject: email, Email: email, EmailVerified: true}, Roles: roles}
	}

	// A coordinator whose provider grants the (mapped) coordinator role.
	c := browser(t)
	resp, body := signIn(c, user("COORD@example.org", "Something.Else", "DSR.Coordinator"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/whoami" {
		t.Fatalf("callback: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, body := ws.get(c, "/whoami"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "coord@example.org coordinator") {
		t.Fatalf("after OIDC sign-in: %d %q", resp.StatusCode, body)
	}
	var via string
	ws.st.Pool.QueryRow(context.Background(), `SELECT via FROM web_sessions`).Scan(&via)
	if via != "oidc" {
		t.Errorf("session via %q", via)
	}

	// Someone the provider knows but the register does not: refused, audited.
	resp, body = signIn(browser(t), user("stranger@example.org", "professional"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not a user of this register") {
		t.Errorf("unknown user: %d %s", resp.StatusCode, body)
	}
	// A professional of the register whom the provider does not grant that
	// role (only coordinator, which the register does not give them).
	resp, body = signIn(browser(t), user("sw@example.org", "DSR.Coordinator"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "professional role") {
		t.Errorf("role not granted: %d %s", resp.StatusCode, body)
	}
	// An unverified email.
	u := user("coord@example.org", "coordinator")
	u.EmailVerified = false
	if resp, _ := signIn(browser(t), u); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unverified email: %d", resp.StatusCode)
	}
	var refused []string
	rows, _ := ws.st.Pool.Query(context.Background(), `SELECT user_email || ': ' || detail FROM audit_log WHERE action = 'refused' ORDER BY id`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		refused = append(refused, s)
	}
	if len(refused) != 2 || !strings.HasPrefix(refused[0], "stranger@example.org: sign-in refused") || !strings.HasPrefix(refused[1], "sw@example.org: sign-in refused") {
		t.Errorf("refused sign-ins audited: %q", refused)
	}

	// Matched on the provider's subject: another account there claiming the
	// coordinator's email is refused; the coordinator's own account still
	// signs in, even under a new email.
	impostor := user("coord@example.org", "DSR.Coordinator")
	impostor.Subject = "someone-else"
	if resp, body := signIn(browser(t), impostor); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not the one this register knows") {
		t.Errorf("another account with the coordinator's email: %d %.200s", resp.StatusCode, body)
	}
	renamed := user("COORD@example.org", "DSR.Coordinator")
	renamed.Email = "cora.new@example.org"
	if resp, _ := signIn(browser(t), renamed); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the coordinator's own account under a new email: %d", resp.StatusCode)
	}

	// A callback with a state this browser did not start is refused.
	c2 := browser(t)
	ws.get(c2, "/signin")
	if resp, _ := ws.get(c2, "/auth/callback?code=x&state=forged"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("forged state: %d", resp.StatusCode)
	}
	// And the dev page is off when an issuer is configured.
	if resp, _ := ws.post(browser(t), "/signin", nil, nil); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /signin with OIDC on: %d", resp.StatusCode)
	}
}

func TestClaimRoles(t *testing.T) {
	m := map[string]string{"coordinator": "coordinator", "professional": "professional",
		"DSR.Coordinator": "coordinator", "R8000": "professional"}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		claim  string
		want   []string
	}{
		{"list", map[string]any{"roles": []any{"DSR.Coordinator", "Other", "R8000"}}, "roles", []string{"coordinator", "professional"}},
		{"string", map[string]any{"roles": "R8000"}, "roles", []string{"professional"}},
		{"repeats once", map[string]any{"roles": []any{"coordinator", "DSR.Coordinator"}}, "roles", []string{"coordinator"}},
		{"nested", map[string]any{"realm_access": map[string]any{"roles": []any{"professional"}}}, "realm_access.roles", []string{"professional"}},
		{"absent", map[string]any{"groups": []any{"coordinator"}}, "roles", nil},
		{"not strings", map[string]any{"roles": []any{1, true, map[string]any{}}}, "roles", nil},
		{"unknown values", map[string]any{"roles": []any{"admin", "superuser"}}, "roles", nil},
		{"path through a non-object", map[string]any{"realm_access": "x"}, "realm_access.roles", nil},
	} {
		if got := ClaimRoles(tc.claims, tc.claim, m); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ClaimRoles = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestClaimEmail(t *testing.T) {
	for _, tc := range []struct {
		claims map[string]any
		want   string
	}{
		{map[string]any{"email": "A.Person@Example.org"}, "a.person@example.org"},
		{map[string]any{"email": "a@example.org", "email_verified": false}, ""},
		{map[string]any{"preferred_username": "a@example.org"}, "a@example.org"},
		{map[string]any{"preferred_username": "not-an-email", "upn": "b@example.org"}, "b@example.org"},
		{map[string]any{"name": "No Email"}, ""},
	} {
		got, ok := claimEmail(tc.claims)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("claimEmail(%v) = %q %v, want %q", tc.claims, got, ok, tc.want)
		}
	}
}
