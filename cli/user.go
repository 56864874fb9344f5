package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func runMigrate(ctx context.Context, env Env, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	appRole := fs.String("app-role", "", "after migrating, grant this role (created NOLOGIN if missing) what dsr api and dsr worker need, and no more")
	if err := fs.Parse(args); err != nil {
		return usageError{"migrate: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("migrate: unexpected argument %q", fs.Arg(0))}
	}
	url, done, err := databaseURL(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer done()
	v, err := store.MigrateWithAppRole(ctx, url, *appRole)
	if err != nil {
		if errors.Is(err, store.ErrAppRoleMissing) {
			return fmt.Errorf("migrate --app-role: %w", err)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "database schema at version %d\n", v)
	if *appRole != "" {
		fmt.Fprintf(env.Stdout, "granted role %s what dsr api and dsr worker need\n", *appRole)
	}
	return nil
}

const userUsage = "usage: dsr user add --email E --name N --role R [--team T] [--manager-email M] [--expires 365d] | " +
	"dsr user disable --email E | dsr user enable --email E | dsr user list"

func runUser(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if len(args) == 0 {
		return usageError{userUsage}
	}
	switch args[0] {
	case "add":
		return userAdd(ctx, env, cfg, args[1:])
	case "disable", "enable":
		return userSwitch(ctx, env, cfg, args[0], args[1:])
	case "list":
		return userList(ctx, env, cfg, args[1:])
	}
	return usageError{userUsage}
}

// withStore opens the database named by the configuration (or dsr dev's)
// for one command.
func withStore(ctx context.Context, env Env, cfg config.Config, fn func(*store.Store) error) error {
	url, done, err := databaseURL(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer done()
	st, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

// operator is who the audit log names for a user command.
func operator(cmd string) register.Actor {
	who := "unknown user"
	if u, err := osuser.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return register.Actor{Role: "operator", ClientAddr: "dsr user " + cmd + ": " + who + "@" + host}
}

// userSwitch is dsr user disable and dsr user enable. Disabling revokes
// every token and ends every session at once.
func userSwitch(ctx context.Context, env Env, cfg config.Config, cmd string, args []string) error {
	fs := flag.NewFlagSet("user "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "the user's email")
	if err := fs.Parse(args); err != nil {
		return usageError{"user " + cmd + ": " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("user %s: unexpected argument %q", cmd, fs.Arg(0))}
	}
	if strings.TrimSpace(*email) == "" {
		return usageError{"user " + cmd + ": --email is required"}
	}
	return withStore(ctx, env, cfg, func(st *store.Store) error {
		if cmd == "enable" {
			if err := st.EnableUser(ctx, operator(cmd), *email); err != nil {
				return fmt.Errorf("user enable: %w", err)
			}
			fmt.Fprintf(env.Stdout, "user %s enabled; their old tokens stay revoked: issue one with dsr user add\n", strings.ToLower(strings.TrimSpace(*email)))
			return nil
		}
		tokens, sessions, err := st.DisableUser(ctx, operator(cmd), *email)
		if err != nil {
			return fmt.Errorf("user disable: %w", err)
		}
		fmt.Fprintf(env.Stdout, "user %s disabled: %d tokens revoked, %d sessions ended\n", strings.ToLower(strings.TrimSpace(*email)), tokens, sessions)
		return nil
	})
}

// userList prints every user: email, role, whether disabled, live tokens
// and when the soonest of them expires.
func userList(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("user list: unexpected argument %q", args[0])}
	}
	return withStore(ctx, env, cfg, func(st *store.Store) error {
		users, err := st.ListUsers(ctx, "")
		if err != nil {
			return err
		}
		tokens, err := st.UserTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tROLE\tSTATUS\tTOKENS\tEXPIRES\tLAST USED")
		day := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.In(register.London).Format(time.DateOnly)
		}
		for _, u := range users {
			status := "active"
			if u.DisabledAt != nil {
				status = "disabled since " + day(u.DisabledAt)
			}
			t := tokens[u.ID]
			expires := day(t.NextExpiry)
			if t.LastExpiry != nil && t.NextExpiry != nil && !t.LastExpiry.Equal(*t.NextExpiry) {
				expires += " to " + day(t.LastExpiry)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", u.Email, u.Role, status, t.Live, expires, day(t.LastUsedAny))
		}
		return tw.Flush()
	})
}

func userAdd(ctx context.Context, env Env, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var u store.User
	fs.StringVar(&u.Email, "email", "", "email address (the user's identity)")
	fs.StringVar(&u.Name, "name", "", "full name")
	fs.StringVar(&u.Role, "role", "", "one of "+strings.Join(store.Roles, ", "))
	fs.StringVar(&u.Team, "team", "", "team or organisation (optional)")
	fs.StringVar(&u.ManagerEmail, "manager-email", "", "their manager's email, for escalations (optional)")
	fs.BoolVar(&u.CETRLead, "cetr-lead", false, "a C(E)TR lead: receives cetr-escalated (optional)")
	expires := fs.String("expires", "365d", "how long the new token lasts (Go duration or Nd days)")
	if err := fs.Parse(args); err != nil {
		return usageError{"user add: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("user add: unexpected argument %q", fs.Arg(0))}
	}
	for _, f := range []struct{ name, v string }{{"email", u.Email}, {"name", u.Name}, {"role", u.Role}} {
		if strings.TrimSpace(f.v) == "" {
			return usageError{"user add: --" + f.name + " is required"}
		}
	}
	life, err := config.ParseDuration(*expires)
	if err != nil || life <= 0 {
		return usageError{"user add: --expires: must be a duration greater than zero, such as 90d or 720h"}
	}

	return withStore(ctx, env, cfg, func(st *store.Store) error {
		saved, err := st.UpsertUser(ctx, u)
		if err != nil {
			return describe("user add", err)
		}
		if saved.DisabledAt != nil {
			return fmt.Errorf("user add: %s is disabled: enable them first (dsr user enable --email %s)", saved.Email, saved.Email)
		}
		token, err := st.NewTokenFor(ctx, saved.ID, life)
		if err != nil {
			return describe("user add", err)
		}
		fmt.Fprintf(env.Stdout, "user %s (%s) saved, id %s; new API token, expires %s:\n%s\n", saved.Email, saved.Role, saved.ID,
			time.Now().Add(life).In(register.London).Format("2006-01-02 15:04 MST"), token)
		return nil
	})
}

// describe spells out a validation error's fields on one line.
func describe(what string, err error) error {
	var e *register.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return fmt.Errorf("%s: %w", what, err)
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		parts = append(parts, "--"+strings.ReplaceAll(k, "_", "-")+": "+e.Fields[k])
	}
	return usageError{what + ": " + strings.Join(parts, "; ")}
}

// databaseURL is DATABASE_URL or, without it, the dev cluster under
// ./.dsr/pg: the running one when dsr dev is up, else started just for
// this command. done releases what was started.
func databaseURL(ctx context.Context, env Env, cfg config.Config) (url string, done func(), err error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	state := filepath.Join(env.Dir, stateDirName)
	pgDir := filepath.Join(state, "pg")
	if _, err := os.Stat(filepath.Join(pgDir, "PG_VERSION")); err != nil {
		return "", nil, &config.FieldError{Var: "DATABASE_URL", Problem: "required (there is no dev database in " + pgDir + " either: run dsr dev here first)"}
	}
	lock, err := lockState(state)
	if errors.Is(err, errStateBusy) {
		// dsr dev is running: use its server.
		port, err := postmasterPort(pgDir)
		if err != nil {
			return "", nil, err
		}
		url, err := devPostgresURL(port)
		return url, func() {}, err
	}
	if err != nil {
		return "", nil, err
	}
	url, stop, err := startDevPostgres(ctx, pgDir)
	if err != nil {
		lock.Close()
		return "", nil, err
	}
	return url, func() { stop(); lock.Close() }, nil
}

// postmasterPort reads the port from a running server's postmaster.pid
// (its fourth line).
func postmasterPort(pgDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("dev database: dsr dev holds %s but its server is not running: %w", pgDir, err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, fmt.Errorf("dev database: %s/postmaster.pid is incomplete; try again", pgDir)
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0, fmt.Errorf("dev database: bad port in %s/postmaster.pid", pgDir)
	}
	return port, nil
}
