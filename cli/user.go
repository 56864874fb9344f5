package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func runMigrate(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if err := noArgs("migrate", args); err != nil {
		return err
	}
	url, done, err := databaseURL(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer done()
	v, err := store.Migrate(ctx, url)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "database schema at version %d\n", v)
	return nil
}

func runUser(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{"usage: dsr user add --email E --name N --role R [--team T] [--manager-email M]"}
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var u store.User
	fs.StringVar(&u.Email, "email", "", "email address (the user's identity)")
	fs.StringVar(&u.Name, "name", "", "full name")
	fs.StringVar(&u.Role, "role", "", "one of "+strings.Join(store.Roles, ", "))
	fs.StringVar(&u.Team, "team", "", "team or organisation (optional)")
	fs.StringVar(&u.ManagerEmail, "manager-email", "", "their manager's email, for escalations (optional)")
	if err := fs.Parse(args[1:]); err != nil {
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
	saved, err := st.UpsertUser(ctx, u)
	if err != nil {
		return describe("user add", err)
	}
	token, err := st.NewToken(ctx, saved.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "user %s (%s) saved, id %s; new API token:\n%s\n", saved.Email, saved.Role, saved.ID, token)
	return nil
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
		return devstack.PostgresURL(port, "dsr"), func() {}, nil
	}
	if err != nil {
		return "", nil, err
	}
	pg, err := devstack.StartPostgres(ctx, pgDir)
	if err != nil {
		lock.Close()
		return "", nil, err
	}
	return pg.URL(), func() { pg.Stop(); lock.Close() }, nil
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
