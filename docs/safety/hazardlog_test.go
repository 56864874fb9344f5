// Package safety checks the clinical safety hazard log (hazard-log.yaml)
// against the repository: every hazard the issue lists is covered, every
// risk agrees with the DCB0129/DCB0160 matrix, every control names at least
// one test, and every test named exists. CI runs every test, so a named
// test also passes.
package safety

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Rating is a severity × likelihood → risk judgement.
type Rating struct {
	Severity   int `yaml:"severity"`
	Likelihood int `yaml:"likelihood"`
	Risk       int `yaml:"risk"`
}

// Control is one control in the product and the tests that prove it.
type Control struct {
	Control string   `yaml:"control"`
	Tests   []string `yaml:"tests"`
}

// Hazard is one entry of the log.
type Hazard struct {
	ID       string    `yaml:"id"`
	Title    string    `yaml:"title"`
	Cause    string    `yaml:"cause"`
	Effect   string    `yaml:"effect"`
	Initial  Rating    `yaml:"initial"`
	Controls []Control `yaml:"controls"`
	Residual Rating    `yaml:"residual"`
}

// Log is the whole hazard log.
type Log struct {
	Matrix  [][]int  `yaml:"matrix"`
	Hazards []Hazard `yaml:"hazards"`
}

// dcbMatrix is the DCB0129/DCB0160 risk matrix, [likelihood-1][severity-1].
var dcbMatrix = [][]int{
	{1, 1, 2, 2, 3},
	{1, 2, 2, 3, 4},
	{2, 2, 3, 3, 4},
	{2, 3, 3, 4, 5},
	{3, 4, 4, 5, 5},
}

// required are the hazards issue 14 names, by title.
var required = []string{
	"A review reminder is missed",
	"An escalation is missed",
	"A notice is sent to the wrong person",
	"Personal data in email, logs or Temporal",
	"The wrong person's record is opened or changed",
	"A duplicate person",
	"A referral is lost",
	"A stale rating",
	"A clock change or time-zone error",
	"A bad configuration",
	"A mail address is refused",
	"Temporal state is lost",
	"Unauthorised access",
	"A report identifies someone",
}

func readLog(t *testing.T) Log {
	t.Helper()
	raw, err := os.ReadFile("hazard-log.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var l Log
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("hazard-log.yaml: %v", err)
	}
	return l
}

var testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)[A-Za-z0-9_]*)\(`)

// repoTests lists the test, benchmark and fuzz functions of every _test.go
// file under root.
func repoTests(root string) (map[string]bool, error) {
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == ".dsr" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	return names, err
}

// check returns every problem with the log, given the tests that exist.
func check(l Log, tests map[string]bool) []string {
	var problems []string
	bad := func(h Hazard, format string, args ...any) {
		problems = append(problems, h.ID+" ("+h.Title+"): "+fmt.Sprintf(format, args...))
	}
	if fmt.Sprint(l.Matrix) != fmt.Sprint(dcbMatrix) {
		problems = append(problems, fmt.Sprintf("the matrix is %v, not DCB0129's %v", l.Matrix, dcbMatrix))
	}
	rate := func(h Hazard, what string, r Rating) {
		if r.Severity < 1 || r.Severity > 5 || r.Likelihood < 1 || r.Likelihood > 5 {
			bad(h, "%s severity and likelihood must be 1 to 5: %+v", what, r)
			return
		}
		if want := dcbMatrix[r.Likelihood-1][r.Severity-1]; r.Risk != want {
			bad(h, "%s risk %d, but severity %d × likelihood %d is %d", what, r.Risk, r.Severity, r.Likelihood, want)
		}
	}
	ids := map[string]bool{}
	for _, h := range l.Hazards {
		if h.ID == "" || ids[h.ID] {
			bad(h, "missing or repeated id")
		}
		ids[h.ID] = true
		for what, v := range map[string]string{"title": h.Title, "cause": h.Cause, "effect": h.Effect} {
			if strings.TrimSpace(v) == "" {
				bad(h, "no %s", what)
			}
		}
		rate(h, "initial", h.Initial)
		rate(h, "residual", h.Residual)
		if h.Residual.Risk > h.Initial.Risk {
			bad(h, "residual risk %d above the initial %d", h.Residual.Risk, h.Initial.Risk)
		}
		if h.Residual.Risk >= 4 {
			bad(h, "residual risk %d is unacceptable", h.Residual.Risk)
		}
		named := 0
		if len(h.Controls) == 0 {
			bad(h, "no controls")
		}
		for i, c := range h.Controls {
			if strings.TrimSpace(c.Control) == "" {
				bad(h, "control %d says nothing", i+1)
			}
			if len(c.Tests) == 0 {
				bad(h, "control %d names no test", i+1)
			}
			for _, name := range c.Tests {
				named++
				if !tests[name] {
					bad(h, "control %d names %s, which is not a test in the repository", i+1, name)
				}
			}
		}
		if named == 0 {
			bad(h, "names no test")
		}
	}
	for _, title := range required {
		if !slices.ContainsFunc(l.Hazards, func(h Hazard) bool { return h.Title == title }) {
			problems = append(problems, "no hazard titled "+title)
		}
	}
	return problems
}

// TestHazardLog: the log covers every hazard the issue lists, and every
// test it names exists.
func TestHazardLog(t *testing.T) {
	l := readLog(t)
	tests, err := repoTests(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if !tests["TestHazardLog"] || len(tests) < 100 {
		t.Fatalf("found %d tests in the repository: the scan is broken", len(tests))
	}
	for _, p := range check(l, tests) {
		t.Error(p)
	}
	n := 0
	for _, h := range l.Hazards {
		for _, c := range h.Controls {
			n += len(c.Tests)
		}
	}
	t.Logf("%d hazards, %d test references, %d tests in the repository", len(l.Hazards), n, len(tests))
}

// TestHazardLogCheckerFails: the checker fails the log when a test it
// names is removed from the repository, when a hazard names no test, when
// a risk disagrees with the matrix, and when a required hazard is missing.
func TestHazardLogCheckerFails(t *testing.T) {
	l := readLog(t)
	tests, err := repoTests(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if p := check(l, tests); len(p) != 0 {
		t.Fatalf("the log has problems already: %v", p)
	}

	// A named test removed from the repository (here: from the set the
	// scan found, as deleting its file would).
	gone := l.Hazards[0].Controls[0].Tests[0]
	without := map[string]bool{}
	for k := range tests {
		if k != gone {
			without[k] = true
		}
	}
	if p := check(l, without); len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), gone) {
		t.Errorf("removing %s: problems %v, want one naming it", gone, p)
	}

	// The same, through the scan: a copy of a test file without the test.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a_test.go"), []byte("package a\n\nfunc TestKept(t *testing.T) {}\n\n// func TestGone(t *testing.T) {}\n"), 0o644)
	scanned, err := repoTests(dir)
	if err != nil || !scanned["TestKept"] || scanned["TestGone"] {
		t.Errorf("scan of a file with one test and one commented out: %v, %v", scanned, err)
	}

	// A hazard that names no test.
	noTests := cloneLog(l)
	for i := range noTests.Hazards[1].Controls {
		noTests.Hazards[1].Controls[i].Tests = nil
	}
	if p := check(noTests, tests); !strings.Contains(strings.Join(p, "\n"), "names no test") {
		t.Errorf("a hazard with no tests: problems %v", p)
	}

	// A risk that disagrees with the matrix.
	wrong := cloneLog(l)
	wrong.Hazards[2].Residual.Risk = 1
	wrong.Hazards[2].Residual.Severity, wrong.Hazards[2].Residual.Likelihood = 5, 5
	if p := check(wrong, tests); len(p) == 0 {
		t.Error("a risk that disagrees with the matrix passed")
	}

	// A required hazard missing.
	short := cloneLog(l)
	short.Hazards = short.Hazards[1:]
	if p := check(short, tests); !strings.Contains(strings.Join(p, "\n"), "no hazard titled "+l.Hazards[0].Title) {
		t.Errorf("a missing hazard: problems %v", p)
	}
}

func cloneLog(l Log) Log {
	out := Log{Matrix: l.Matrix}
	for _, h := range l.Hazards {
		c := h
		c.Controls = nil
		for _, ctl := range h.Controls {
			ctl.Tests = slices.Clone(ctl.Tests)
			c.Controls = append(c.Controls, ctl)
		}
		out.Hazards = append(out.Hazards, c)
	}
	return out
}
