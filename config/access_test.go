package config

import (
	"errors"
	"maps"
	"testing"
)

func TestAccessDefaults(t *testing.T) {
	c, err := Load(env("DSR_BASE_URL", "https://dsr.example.nhs.uk"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalUIOrigin != "http://localhost:8233" {
		t.Errorf("TemporalUIOrigin = %q", c.TemporalUIOrigin)
	}
	if c.OIDC.RedirectURL != "https://dsr.example.nhs.uk/auth/callback" {
		t.Errorf("RedirectURL = %q", c.OIDC.RedirectURL)
	}
	if c.OIDC.RoleClaim != "roles" || c.DevSignIn {
		t.Errorf("RoleClaim %q, DevSignIn %v", c.OIDC.RoleClaim, c.DevSignIn)
	}
	want := map[string]string{"coordinator": "coordinator", "professional": "professional", "manager": "manager",
		"commissioner": "commissioner", "auditor": "auditor"}
	if !maps.Equal(c.OIDC.RoleMap, want) {
		t.Errorf("RoleMap = %v", c.OIDC.RoleMap)
	}
}

func TestRoleMap(t *testing.T) {
	c, err := Load(env("DSR_OIDC_ROLE_MAP", " DSR.Coordinator = coordinator,R8000=professional ",
		"DSR_OIDC_ISSUER", "https://login.example.org", "DSR_OIDC_CLIENT_ID", "dsr"))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.RoleMap["DSR.Coordinator"] != "coordinator" || c.OIDC.RoleMap["R8000"] != "professional" || c.OIDC.RoleMap["auditor"] != "auditor" {
		t.Errorf("RoleMap = %v", c.OIDC.RoleMap)
	}
	for _, tc := range []struct{ name, value string }{
		{"DSR_OIDC_ROLE_MAP", "Admins=superuser"},
		{"DSR_OIDC_ROLE_MAP", "Admins"},
		{"DSR_OIDC_ROLE_MAP", "=coordinator"},
		{"DSR_OIDC_CLIENT_ID", ""},
	} {
		_, err := Load(env(tc.name, tc.value, "DSR_OIDC_ISSUER", "https://login.example.org"))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Var != tc.name {
			t.Errorf("%s=%q: err = %v, want a *FieldError naming it", tc.name, tc.value, err)
		}
	}
}
