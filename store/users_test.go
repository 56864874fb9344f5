package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func TestUpsertUserCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.DB(t)
	u, err := s.UpsertUser(ctx, store.User{Email: " Ann.Smith@Example.ORG ", Name: "Ann Smith", Role: store.RoleProfessional, Team: "CTPLD", ManagerEmail: "Boss@Example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.Email != "ann.smith@example.org" || u.ManagerEmail != "boss@example.org" || u.Team != "CTPLD" {
		t.Fatalf("created %+v", u)
	}
	u2, err := s.UpsertUser(ctx, store.User{Email: "ANN.SMITH@example.org", Name: "Ann Smith-Jones", Role: store.RoleManager})
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID != u.ID || u2.Name != "Ann Smith-Jones" || u2.Role != store.RoleManager || u2.Team != "" || !u2.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("updated %+v, was %+v", u2, u)
	}
	all, err := s.ListUsers(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("ListUsers = %v, %v", all, err)
	}
	got, err := s.UserByEmail(ctx, "Ann.Smith@example.org")
	if err != nil || got.ID != u.ID {
		t.Fatalf("UserByEmail = %+v, %v", got, err)
	}
}

func TestUpsertUserRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := testenv.DB(t)
	for _, tc := range []struct {
		name  string
		u     store.User
		field string
	}{
		{"bad email", store.User{Email: "not-an-email", Name: "N", Role: store.RoleAuditor}, "email"},
		{"display name in email", store.User{Email: "Ann <ann@example.org>", Name: "N", Role: store.RoleAuditor}, "email"},
		{"no name", store.User{Email: "a@example.org", Name: " ", Role: store.RoleAuditor}, "name"},
		{"unknown role", store.User{Email: "a@example.org", Name: "N", Role: "admin"}, "role"},
		{"bad manager", store.User{Email: "a@example.org", Name: "N", Role: store.RoleProfessional, ManagerEmail: "x"}, "manager_email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpsertUser(context.Background(), tc.u)
			var e *register.Error
			if !asError(err, &e) || e.Kind != register.KindInvalid || e.Fields[tc.field] == "" {
				t.Fatalf("err = %v, want invalid %s", err, tc.field)
			}
		})
	}
}

func TestListUsersByRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.DB(t)
	for _, u := range []store.User{
		{Email: "c@example.org", Name: "C", Role: store.RoleCoordinator},
		{Email: "b@example.org", Name: "B", Role: store.RoleProfessional},
		{Email: "a@example.org", Name: "A", Role: store.RoleProfessional},
	} {
		if _, err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	pros, err := s.ListUsers(ctx, store.RoleProfessional)
	if err != nil || len(pros) != 2 || pros[0].Email != "a@example.org" {
		t.Fatalf("professionals = %v, %v", pros, err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.DB(t)
	u, err := s.UpsertUser(ctx, store.User{Email: "c@example.org", Name: "C", Role: store.RoleCoordinator})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.NewToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes of base64url", tok)
	}
	tok2, _ := s.NewToken(ctx, u.ID)
	if tok2 == tok {
		t.Fatal("two tokens alike")
	}

	got, err := s.UserByToken(ctx, tok)
	if err != nil || got.ID != u.ID || got.Role != store.RoleCoordinator {
		t.Fatalf("UserByToken = %+v, %v", got, err)
	}
	// Only the hash is stored.
	var n int
	h := sha256.Sum256([]byte(tok))
	s.Pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE hash = $1 AND last_used_at IS NOT NULL`, h[:]).Scan(&n)
	if n != 1 {
		t.Fatalf("token hash with last_used_at: %d rows, want 1", n)
	}
	s.Pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE position($1::bytea in hash) > 0`, []byte(tok)).Scan(&n)
	if n != 0 {
		t.Fatal("token stored in the clear")
	}

	for _, bad := range []string{"", "nope", tok + "x", tok[:len(tok)-1]} {
		if _, err := s.UserByToken(ctx, bad); register.KindOf(err) != register.KindNotFound {
			t.Errorf("UserByToken(%q) err = %v, want not found", bad, err)
		}
	}

	if n, err := s.RevokeTokens(ctx, u.ID); err != nil || n != 2 {
		t.Fatalf("RevokeTokens = %d, %v", n, err)
	}
	if _, err := s.UserByToken(ctx, tok); register.KindOf(err) != register.KindNotFound {
		t.Fatalf("revoked token still works: %v", err)
	}
}
