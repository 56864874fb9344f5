package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The lean build (go build -tags lean, as the Dockerfile builds dsr for
// api and worker) links no Temporal server, UI or dev PostgreSQL, and says
// so when asked for dsr dev.
func TestLeanBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-tags", "lean", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v (%s)", err, stderrOf(err))
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "go.temporal.io/server") || strings.HasPrefix(dep, "github.com/temporalio/ui-server") || dep == "github.com/bsw-dsr/dsr/devstack" {
			t.Errorf("the lean build links %s", dep)
		}
	}
	bin := filepath.Join(t.TempDir(), "dsr")
	if b, err := exec.Command("go", "build", "-tags", "lean", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags lean: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "dev")
	cmd.Env = devEnv("")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(b), "dsr dev: not in this build") {
		t.Errorf("lean dsr dev: %v, %q; want exit 2 saying it is not in this build", err, b)
	}
	if b, err := exec.Command(bin, "keygen").Output(); err != nil || len(strings.TrimSpace(string(b))) < 20 {
		t.Errorf("lean dsr keygen: %v %q", err, b)
	}
}
