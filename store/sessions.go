package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// SessionLimits bound a browser session: it ends Lifetime after sign-in
// whatever happens, or Idle after its last use.
type SessionLimits struct {
	Lifetime time.Duration
	Idle     time.Duration
}

// NewSession signs a user in: it stores a session that lasts lim.Lifetime
// and returns its random id, for the cookie. Only the id's SHA-256 is
// stored. via says how they signed in ("oidc" or "dev"); the sign-in is
// audited in the same transaction.
func (s *Store) NewSession(ctx context.Context, a register.Actor, via string, lim SessionLimits) (string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("store: session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	h := hashToken(id)
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var disabled bool
		if err := tx.QueryRow(ctx, `SELECT disabled_at IS NOT NULL FROM users WHERE id = $1 FOR SHARE`, a.UserID).Scan(&disabled); err != nil {
			return fmt.Errorf("store: session user: %w", err)
		}
		if disabled {
			return &register.Error{Kind: register.KindForbidden, Message: "this account is disabled"}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO web_sessions (hash, user_id, via, client_addr, expires_at)
			VALUES ($1, $2, $3, $4, now() + $5 * interval '1 microsecond')`, h[:], a.UserID, via, a.ClientAddr, lim.Lifetime.Microseconds()); err != nil {
			return fmt.Errorf("store: save session: %w", err)
		}
		return audit(ctx, tx, a, "signin", "", nil, "web sign-in via "+via)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// UserBySession returns the user of a live session: not past its expiry
// and used within lim.Idle. KindNotFound otherwise. It notes the use at
// most once a minute, so that reads do not all become writes.
func (s *Store) UserBySession(ctx context.Context, id string, lim SessionLimits) (User, error) {
	if id == "" || len(id) > 256 {
		return User{}, register.NotFound("session")
	}
	h := hashToken(id)
	var u User
	var lastSeen time.Time
	err := s.Pool.QueryRow(ctx, `
		SELECT u.id::text, u.email, u.name, u.role, u.team, u.manager_email, u.created_at, u.updated_at, w.last_seen_at
		FROM web_sessions w JOIN users u ON u.id = w.user_id
		WHERE w.hash = $1 AND w.expires_at > now() AND w.last_seen_at > now() - $2 * interval '1 microsecond' AND u.disabled_at IS NULL`, h[:], lim.Idle.Microseconds()).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Team, &u.ManagerEmail, &u.CreatedAt, &u.UpdatedAt, &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, register.NotFound("session")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user by session: %w", err)
	}
	if time.Since(lastSeen) > time.Minute {
		// Best effort: failing to note the use must not refuse the request.
		s.Pool.Exec(ctx, `UPDATE web_sessions SET last_seen_at = now() WHERE hash = $1`, h[:])
	}
	return u, nil
}

// EndSession signs out: the session is deleted, and the sign-out audited.
// Ending a session that does not exist does nothing.
func (s *Store) EndSession(ctx context.Context, id string, a register.Actor) error {
	h := hashToken(id)
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE hash = $1`, h[:])
		if err != nil {
			return fmt.Errorf("store: end session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return audit(ctx, tx, a, "signout", "", nil, "web sign-out")
	})
}

// PurgeSessions deletes sessions past their expiry or idle limit and
// returns how many.
func (s *Store) PurgeSessions(ctx context.Context, lim SessionLimits) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= now() OR last_seen_at <= now() - $1 * interval '1 microsecond'`, lim.Idle.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
