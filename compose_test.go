package main

import (
	"os"
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
		"temporal":    "temporalio/auto-setup:",
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
	for name, cmd := range map[string]string{"dsr-migrate": "migrate", "dsr-worker": "worker", "dsr-api": "api"} {
		if got := f.Services[name].Command; !slices.Equal(got, []string{cmd}) {
			t.Errorf("%s: command %q, want [%s]", name, got, cmd)
		}
	}
	// Temporal runs on the same PostgreSQL.
	if te := f.Services["temporal"].Environment; te["POSTGRES_SEEDS"] != "postgres" || !strings.HasPrefix(te["DB"], "postgres") {
		t.Errorf("temporal: %v, want it on the postgres service", te)
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
	vars := map[string]string{"POSTGRES_PASSWORD": "secret", "DSR_PAYLOAD_KEY": codec.GenerateKey(), "DSR_BASE_URL": "https://dsr.example.nhs.uk"}
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
		if want := "postgres://postgres:secret@postgres:5432/dsr?sslmode=disable"; c.DatabaseURL != want {
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
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(d, -1)); n != 2 {
		t.Errorf("want a two-stage build (build, then a small runtime image), found %d stages", n)
	}
}
