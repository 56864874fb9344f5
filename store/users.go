package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// Roles, as CONTRACT.md names them.
const (
	RoleCoordinator  = "coordinator"
	RoleProfessional = "professional"
	RoleManager      = "manager"
	RoleCommissioner = "commissioner"
	RoleAuditor      = "auditor"
)

// Roles lists every role.
var Roles = []string{RoleCoordinator, RoleProfessional, RoleManager, RoleCommissioner, RoleAuditor}

// User is a member of staff who may use the register.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	Team         string    `json:"team,omitempty"`
	ManagerEmail string    `json:"manager_email,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

const userColumns = `id::text, email, name, role, team, manager_email, created_at, updated_at`

func scanUser(r pgx.Row) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Team, &u.ManagerEmail, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// normaliseEmail checks an address with the register's one email rule and
// lower-cases it.
func normaliseEmail(field, s string) (string, error) {
	e, err := register.NormaliseEmail(s)
	if err != nil {
		return "", register.Invalidf(field, "%s", err.Error())
	}
	return e, nil
}

// UpsertUser creates the user with u.Email, or updates that user's name,
// role, team and manager. It returns the stored user.
func (s *Store) UpsertUser(ctx context.Context, u User) (User, error) {
	email, err := normaliseEmail("email", u.Email)
	if err != nil {
		return User{}, err
	}
	u.Email = email
	if u.ManagerEmail != "" {
		if u.ManagerEmail, err = normaliseEmail("manager_email", u.ManagerEmail); err != nil {
			return User{}, err
		}
	}
	u.Name, u.Team = strings.TrimSpace(u.Name), strings.TrimSpace(u.Team)
	if u.Name == "" {
		return User{}, register.Invalidf("name", "required")
	}
	if !slices.Contains(Roles, u.Role) {
		return User{}, register.Invalidf("role", "must be one of %s", strings.Join(Roles, ", "))
	}
	row := s.Pool.QueryRow(ctx, `
		INSERT INTO users (email, name, role, team, manager_email)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT ((lower(email))) DO UPDATE
		SET name = EXCLUDED.name, role = EXCLUDED.role, team = EXCLUDED.team,
		    manager_email = EXCLUDED.manager_email, updated_at = now()
		RETURNING `+userColumns,
		u.Email, u.Name, u.Role, u.Team, u.ManagerEmail)
	stored, err := scanUser(row)
	if err != nil {
		return User{}, fmt.Errorf("store: upsert user: %w", err)
	}
	return stored, nil
}

// UserByEmail finds a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, strings.TrimSpace(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, register.NotFound("user")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user by email: %w", err)
	}
	return u, nil
}

// ListUsers returns the users with this role, or everyone when role is
// empty, ordered by email.
func (s *Store) ListUsers(ctx context.Context, role string) ([]User, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE $1 = '' OR role = $1 ORDER BY email`, role)
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return users, nil
}

// tokenBytes is the entropy of an API token.
const tokenBytes = 32

// NewToken issues a fresh random token for the user and returns it. Only
// its SHA-256 is stored, so it cannot be shown again.
func (s *Store) NewToken(ctx context.Context, userID string) (string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("store: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	h := hashToken(token)
	if _, err := s.Pool.Exec(ctx, `INSERT INTO api_tokens (hash, user_id) VALUES ($1, $2)`, h[:], userID); err != nil {
		return "", fmt.Errorf("store: save token: %w", err)
	}
	return token, nil
}

// UserByToken returns the user a live (not revoked) token belongs to; a
// KindNotFound error when there is none. It notes when the token was last
// used, at most once a minute per token so reads do not become writes.
func (s *Store) UserByToken(ctx context.Context, token string) (User, error) {
	if token == "" || len(token) > 256 {
		return User{}, register.NotFound("token")
	}
	h := hashToken(token)
	var (
		u        User
		lastUsed *time.Time
	)
	err := s.Pool.QueryRow(ctx, `
		SELECT u.id::text, u.email, u.name, u.role, u.team, u.manager_email, u.created_at, u.updated_at, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = $1 AND t.revoked_at IS NULL`, h[:]).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Team, &u.ManagerEmail, &u.CreatedAt, &u.UpdatedAt, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, register.NotFound("token")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user by token: %w", err)
	}
	if lastUsed == nil || time.Since(*lastUsed) > time.Minute {
		// Best effort: a failure here must not refuse a valid request.
		s.Pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE hash = $1`, h[:])
	}
	return u, nil
}

// RevokeTokens revokes every live token of the user and returns how many.
func (s *Store) RevokeTokens(ctx context.Context, userID string) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, userID)
	if err != nil {
		return 0, fmt.Errorf("store: revoke tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

func hashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }
