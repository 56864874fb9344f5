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
	// DisabledAt is set while the account is disabled (dsr user disable).
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	// CETRLead flags a C(E)TR lead, who receives cetr-escalated (a
	// role-like flag on top of the role).
	CETRLead bool `json:"cetr_lead,omitempty"`
}

const userColumns = `id::text, email, name, role, team, manager_email, created_at, updated_at, disabled_at, cetr_lead`

func scanUser(r pgx.Row) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Team, &u.ManagerEmail, &u.CreatedAt, &u.UpdatedAt, &u.DisabledAt, &u.CETRLead)
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
		INSERT INTO users (email, name, role, team, manager_email, cetr_lead)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT ((lower(email))) DO UPDATE
		SET name = EXCLUDED.name, role = EXCLUDED.role, team = EXCLUDED.team,
		    manager_email = EXCLUDED.manager_email, cetr_lead = EXCLUDED.cetr_lead, updated_at = now()
		RETURNING `+userColumns,
		u.Email, u.Name, u.Role, u.Team, u.ManagerEmail, u.CETRLead)
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

// DefaultTokenLife is how long a token lasts unless dsr user add
// --expires says otherwise.
const DefaultTokenLife = 365 * 24 * time.Hour

// NewToken issues a fresh random token for the user, lasting
// DefaultTokenLife, and returns it. Only its SHA-256 is stored, so it
// cannot be shown again.
func (s *Store) NewToken(ctx context.Context, userID string) (string, error) {
	return s.NewTokenFor(ctx, userID, DefaultTokenLife)
}

// NewTokenFor is NewToken with a lifetime: the token stops working life
// after now.
func (s *Store) NewTokenFor(ctx context.Context, userID string, life time.Duration) (string, error) {
	if life <= 0 {
		return "", register.Invalidf("expires", "must be longer than zero")
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("store: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	h := hashToken(token)
	if _, err := s.Pool.Exec(ctx, `INSERT INTO api_tokens (hash, user_id, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')`, h[:], userID, life.Microseconds()); err != nil {
		return "", fmt.Errorf("store: save token: %w", err)
	}
	return token, nil
}

// UserByToken returns the user a live token belongs to (not revoked, not
// expired, its user not disabled); a
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
		WHERE t.hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.disabled_at IS NULL`, h[:]).
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

// ErrNoSuchUser is returned by DisableUser and EnableUser for an unknown
// email.
var ErrNoSuchUser = register.NotFound("user")

// DisableUser disables the account with this email at once: in one
// transaction it marks the user disabled, revokes every live token and
// ends every web session, and audits it (actor is who did it). It returns
// how many tokens and sessions it ended. Disabling a disabled user
// changes nothing more.
func (s *Store) DisableUser(ctx context.Context, a register.Actor, email string) (tokens, sessions int64, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `UPDATE users SET disabled_at = coalesce(disabled_at, now()), updated_at = now()
			WHERE lower(email) = lower($1) RETURNING id::text`, strings.TrimSpace(email)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoSuchUser
		}
		if err != nil {
			return fmt.Errorf("store: disable user: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, id)
		if err != nil {
			return fmt.Errorf("store: revoke tokens: %w", err)
		}
		tokens = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("store: end sessions: %w", err)
		}
		sessions = tag.RowsAffected()
		return audit(ctx, tx, a, "change", "", nil, fmt.Sprintf("user %s disabled: %d tokens revoked, %d sessions ended", id, tokens, sessions))
	})
	return tokens, sessions, err
}

// EnableUser lets a disabled user back in. Their old tokens stay revoked:
// issue a new one with dsr user add.
func (s *Store) EnableUser(ctx context.Context, a register.Actor, email string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `UPDATE users SET disabled_at = NULL, updated_at = now() WHERE lower(email) = lower($1) RETURNING id::text`,
			strings.TrimSpace(email)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoSuchUser
		}
		if err != nil {
			return fmt.Errorf("store: enable user: %w", err)
		}
		return audit(ctx, tx, a, "change", "", nil, "user "+id+" enabled")
	})
}

// TokenSummary is what dsr user list shows of a user's live tokens.
type TokenSummary struct {
	Live        int        // neither revoked nor expired
	NextExpiry  *time.Time // the soonest a live token expires
	LastExpiry  *time.Time // the latest a live token expires
	LastUsedAny *time.Time // the last use of any token
}

// UserTokens summarises each user's tokens, by user id.
func (s *Store) UserTokens(ctx context.Context) (map[string]TokenSummary, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT user_id::text,
			count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > now())::int,
			min(expires_at) FILTER (WHERE revoked_at IS NULL AND expires_at > now()),
			max(expires_at) FILTER (WHERE revoked_at IS NULL AND expires_at > now()),
			max(last_used_at)
		FROM api_tokens GROUP BY user_id`)
	out := map[string]TokenSummary{}
	var id string
	var t TokenSummary
	_, err := pgx.ForEachRow(rows, []any{&id, &t.Live, &t.NextExpiry, &t.LastExpiry, &t.LastUsedAny}, func() error {
		out[id] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: user tokens: %w", err)
	}
	return out, nil
}

// UserForOIDC finds the user an identity-provider account signs in as.
// subject is "issuer subject". A user bound to that subject is theirs
// (whatever email the provider now says); otherwise the user with the
// email, who is then bound to the subject, unless they are bound to
// another subject already: that is a KindForbidden error, since someone
// else's account at the provider claims their email. KindNotFound when no
// user matches.
func (s *Store) UserForOIDC(ctx context.Context, subject, email string) (User, error) {
	var u User
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE oidc_subject = $1`, subject))
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store: user by oidc subject: %w", err)
		}
		var bound *string
		err = tx.QueryRow(ctx, `SELECT oidc_subject FROM users WHERE lower(email) = lower($1) FOR UPDATE`, strings.TrimSpace(email)).Scan(&bound)
		if errors.Is(err, pgx.ErrNoRows) {
			return register.NotFound("user")
		}
		if err != nil {
			return fmt.Errorf("store: user by email: %w", err)
		}
		if bound != nil {
			return &register.Error{Kind: register.KindForbidden, Message: "this email belongs to a user who signs in with another identity-provider account"}
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET oidc_subject = $2 WHERE lower(email) = lower($1) RETURNING `+userColumns,
			strings.TrimSpace(email), subject))
		if err != nil {
			return fmt.Errorf("store: bind oidc subject: %w", err)
		}
		return nil
	})
	return u, err
}
