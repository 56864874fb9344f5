package main

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
)

// Docker does not run on the machines this is built on, so the compose file
// is checked by reading it: the services of the production shape exist, each
// dsr service's environment passes the same validation the binary applies at
// start, and every dependency points at a service that exists.

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   dependsOn         `yaml:"depends_on"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
}

// dependsOn reads both forms: a list of names, or names with conditions.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, s := range names {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*d)[k] = v.Condition
	}
	return nil
}

// interpolate does compose's ${VAR}, ${VAR:-default} and ${VAR:?message}.
func interpolate(s string, vars map[string]string) string {
	re := regexp.MustCompile(`\$\{([A-Z_]+)(?::([-?])([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		p := re.FindStringSubmatch(m)
		if v := vars[p[1]]; v != "" {
			return v
		}
		if p[2] == "-" {
			return p[3]
		}
		return ""
	})
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

func TestComposeServices(t *testing.T) {
	f := readCompose(t)
	images := map[string]string{
		"postgres":    "postgres:",
		"temporal":    "dsr-temporal:",
		"temporal-ui": "temporalio/ui:",
		"mailpit":     "axllent/mailpit:",
		"dsr-migrate": "dsr:",
		"dsr-worker":  "dsr:",
		"dsr-api":     "dsr:",
	}
	for name, prefix := range images {
		s, ok := f.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if !strings.HasPrefix(s.Image, prefix) || strings.HasSuffix(s.Image, ":") {
			t.Errorf("%s: image %q, want %s<tag>", name, s.Image, prefix)
		}
	}
	if f.Services["dsr-migrate"].Build != "." {
		t.Errorf("dsr-migrate should build the dsr image from the Dockerfile here")
	}
	for name, cmd := range map[string][]string{
		"dsr-migrate": {"migrate", "--app-role", "dsr_app"},
		"dsr-worker":  {"worker"},
		"dsr-api":     {"api"},
		"temporal":    {"temporal-server"},
	} {
		if got := f.Services[name].Command; !slices.Equal(got, cmd) {
			t.Errorf("%s: command %q, want %q", name, got, cmd)
		}
	}
	// Temporal runs on the same PostgreSQL, listening for the others, with
	// settings dsr temporal-server accepts.
	te := map[string]string{}
	for k, v := range f.Services["temporal"].Environment {
		te[k] = interpolate(v, map[string]string{"POSTGRES_PASSWORD": "secret"})
	}
	if u, err := url.Parse(te["DSR_TEMPORAL_DATABASE_URL"]); err != nil || u.Hostname() != "postgres" {
		t.Errorf("temporal: DSR_TEMPORAL_DATABASE_URL %q, want it on the postgres service", te["DSR_TEMPORAL_DATABASE_URL"])
	}
	if c, err := config.Load(func(k string) string { return te[k] }); err != nil || c.TemporalServer.Listen != "0.0.0.0:7233" {
		t.Errorf("temporal: %v, listening on %q; want 0.0.0.0:7233", err, c.TemporalServer.Listen)
	}
	if ui := f.Services["temporal-ui"].Environment; ui["TEMPORAL_ADDRESS"] != "temporal:7233" {
		t.Errorf("temporal-ui: TEMPORAL_ADDRESS %q", ui["TEMPORAL_ADDRESS"])
	}
	if _, ok := f.Volumes["pgdata"]; !ok {
		t.Error("PostgreSQL's data should be on a named volume")
	}
}

func TestComposeDependencies(t *testing.T) {
	f := readCompose(t)
	want := map[string]map[string]string{
		"temporal":    {"postgres": "service_healthy"},
		"dsr-migrate": {"postgres": "service_healthy"},
		"dsr-worker":  {"dsr-migrate": "service_completed_successfully", "temporal": "service_started", "mailpit": "service_started"},
		"dsr-api":     {"dsr-migrate": "service_completed_successfully", "temporal": "service_started"},
	}
	for name, deps := range want {
		for dep, cond := range deps {
			if got, ok := f.Services[name].DependsOn[dep]; !ok || got != cond {
				t.Errorf("%s depends_on %s: %q, want %q", name, dep, got, cond)
			}
		}
	}
	for name, s := range f.Services {
		for dep := range s.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
	}
	// No cycles: every service can be started in some order.
	started := map[string]bool{}
	for range f.Services {
		for name, s := range f.Services {
			ready := true
			for dep := range s.DependsOn {
				ready = ready && started[dep]
			}
			if ready {
				started[name] = true
			}
		}
	}
	if len(started) != len(f.Services) {
		t.Errorf("dependency cycle among services: only %d of %d can start", len(started), len(f.Services))
	}
}

// Each dsr service's environment, with the operator's variables filled in,
// must pass the checks the binary makes at start.
func TestComposeEnvironmentPassesConfig(t *testing.T) {
	f := readCompose(t)
	vars := map[string]string{"POSTGRES_PASSWORD": "secret", "DSR_DB_PASSWORD": "appsecret", "DSR_PAYLOAD_KEY": codec.GenerateKey(), "DSR_BASE_URL": "https://dsr.example.nhs.uk"}
	for name, require := range map[string]func(config.Config) error{
		"dsr-migrate": func(c config.Config) error { return nil },
		"dsr-worker":  config.Config.RequireProduction,
		"dsr-api":     config.Config.RequireAPI,
	} {
		env := map[string]string{}
		for k, v := range f.Services[name].Environment {
			env[k] = interpolate(v, vars)
		}
		c, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := require(c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		want := "postgres://dsr_app_login:appsecret@postgres:5432/dsr?sslmode=disable"
		if name == "dsr-migrate" {
			want = "postgres://postgres:secret@postgres:5432/dsr?sslmode=disable"
		}
		if c.DatabaseURL != want {
			t.Errorf("%s: DATABASE_URL %q, want %q", name, c.DatabaseURL, want)
		}
		if name != "dsr-migrate" && c.TemporalAddress != "temporal:7233" {
			t.Errorf("%s: TEMPORAL_ADDRESS %q", name, c.TemporalAddress)
		}
	}
	w := f.Services["dsr-worker"].Environment
	if w["DSR_SMTP_HOST"] != "mailpit" || w["DSR_SMTP_PORT"] != "1025" {
		t.Errorf("dsr-worker mail: %s:%s, want mailpit:1025", w["DSR_SMTP_HOST"], w["DSR_SMTP_PORT"])
	}
	api := f.Services["dsr-api"]
	if !strings.HasPrefix(api.Environment["DSR_HTTP_ADDR"], "0.0.0.0:") {
		t.Errorf("dsr-api must listen on all interfaces in its container, not %q", api.Environment["DSR_HTTP_ADDR"])
	}
	port := strings.TrimPrefix(api.Environment["DSR_HTTP_ADDR"], "0.0.0.0:")
	if !slices.ContainsFunc(api.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
		t.Errorf("dsr-api publishes %v, not its port %s", api.Ports, port)
	}
}

// The schema's owner migrates and grants the application role; the API and
// the worker connect as a login that is a member of that role, not as the
// owner, so they cannot drop or disable the audit log's append-only trigger.
// The login is made, with its password from the environment, by the init
// script the postgres service runs on a new data volume.
func TestComposeDatabaseRoles(t *testing.T) {
	f := readCompose(t)
	pg := f.Services["postgres"]
	ownerUser := pg.Environment["POSTGRES_USER"]
	// Distinct values, to see which variable each password comes from.
	vars := map[string]string{"POSTGRES_PASSWORD": "owner-pw", "DSR_DB_PASSWORD": "app-pw"}
	userOf := func(service string) (user, password string) {
		u, err := url.Parse(interpolate(f.Services[service].Environment["DATABASE_URL"], vars))
		if err != nil || u.User == nil {
			t.Fatalf("%s: DATABASE_URL %q: %v", service, f.Services[service].Environment["DATABASE_URL"], err)
		}
		p, _ := u.User.Password()
		return u.User.Username(), p
	}

	cmd := f.Services["dsr-migrate"].Command
	i := slices.Index(cmd, "--app-role")
	if i < 0 || i+1 >= len(cmd) || cmd[i+1] == "" {
		t.Fatalf("dsr-migrate: command %q does not pass --app-role NAME", cmd)
	}
	appRole := cmd[i+1]
	if u, p := userOf("dsr-migrate"); u != ownerUser || p != "owner-pw" {
		t.Errorf("dsr-migrate connects as %q (password %q), want the owner %q with ${POSTGRES_PASSWORD}", u, p, ownerUser)
	}

	var login string
	for _, name := range []string{"dsr-api", "dsr-worker"} {
		u, p := userOf(name)
		if u == ownerUser || u == "postgres" || u == appRole {
			t.Errorf("%s connects as %q, want a login that is a member of %s, not the owner", name, u, appRole)
		}
		if p != "app-pw" {
			t.Errorf("%s: database password %q, want it from ${DSR_DB_PASSWORD}", name, p)
		}
		if login == "" {
			login = u
		} else if u != login {
			t.Errorf("dsr-api and dsr-worker connect as %q and %q, want one app login", login, u)
		}
	}

	// The init script makes that login, a member of the app role.
	const initDir = "./deploy/postgres-init"
	if !slices.Contains(pg.Volumes, initDir+":/docker-entrypoint-initdb.d:ro") {
		t.Errorf("postgres volumes %q: want %s mounted on /docker-entrypoint-initdb.d", pg.Volumes, initDir)
	}
	if !strings.HasPrefix(pg.Environment["DSR_DB_PASSWORD"], "${DSR_DB_PASSWORD") {
		t.Errorf("postgres: DSR_DB_PASSWORD %q, want ${DSR_DB_PASSWORD} for the init script", pg.Environment["DSR_DB_PASSWORD"])
	}
	b, err := os.ReadFile(filepath.Join(initDir, "10-dsr-roles.sh"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{
		"CREATE ROLE " + appRole + " NOLOGIN",
		"CREATE ROLE " + login + " LOGIN",
		"GRANT " + appRole + " TO " + login + ";",
		"NOSUPERUSER NOCREATEDB NOCREATEROLE",
		`--set=pw="$DSR_DB_PASSWORD"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("%s/10-dsr-roles.sh lacks %q", initDir, want)
		}
	}
}

// The Dockerfile builds with the Go of go.mod, without fetching another
// toolchain, and its image runs dsr.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := string(b)
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(mod))[1]
	for _, want := range []string{
		"FROM golang:" + goVersion + "-",
		"GOTOOLCHAIN=local",
		"go build",
		`ENTRYPOINT ["/usr/local/bin/dsr"]`,
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// One build stage, then small runtime images only: the default (last)
	// one is the lean build for api, worker and migrate.
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(d, -1)
	if len(froms) < 2 || !strings.HasPrefix(froms[0][1], "golang:") {
		t.Fatalf("want a build stage then runtime images, found %v", froms)
	}
	for _, f := range froms[1:] {
		if !strings.HasPrefix(f[1], "gcr.io/distroless/static") {
			t.Errorf("runtime image %s is not distroless static", f[1])
		}
	}
	if !strings.Contains(d, "-tags lean") || !strings.Contains(d[strings.LastIndex(d, "FROM "):], "COPY --from=build /out/dsr /usr/local/bin/dsr") {
		t.Error("the default image does not carry the lean build")
	}
}
