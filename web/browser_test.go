package web_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bsw-dsr/dsr/register"
)

// axeSource is axe-core, copied here by build-assets.sh from the version
// package-lock.json pins, so the test needs no node_modules.
//
//go:embed testdata/axe.min.js
var axeSource string

// artifacts is where screenshots and axe results go (gitignored).
const artifacts = "../testdata/artifacts"

// findChromium returns the browser to drive. Without one the browser tests
// skip, unless CI is set: there they must run.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DSR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found, and CI is set: install it (apt-get install -y chromium) so the browser tests run")
	}
	t.Skip("no Chromium found (apt-get install -y chromium); the browser tests are skipped outside CI")
	return ""
}

// chrome is one headless Chromium with a fresh profile, driving the site.
type chrome struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	console  []chromedp.ConsoleMessage
	axe      map[string]axeResult
	shotDirs []string
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

type axeResult struct {
	URL        string         `json:"url"`
	Violations []axeViolation `json:"violations"`
	Passes     int            `json:"passes"`
}

func newChrome(t *testing.T, base string) *chrome {
	t.Helper()
	exe := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	c := &chrome{t: t, ctx: ctx, base: base, axe: map[string]axeResult{}}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.console = append(c.console, m)
			c.mu.Unlock()
		}
	}()
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.writeAxeReport)
	return c
}

// do runs steps, each bounded so a wrong selector fails fast.
func (c *chrome) do(steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("browser: %v", err)
	}
}

// open goes to a path and waits for the page.
func (c *chrome) open(path string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// submit clicks and waits for the page the click leads to; it returns that
// page's status.
func (c *chrome) submit(sel string) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

// typeIn replaces a field's value by typing, as a person does.
func (c *chrome) typeIn(id, text string) {
	c.t.Helper()
	// Clear it first. (SetValue with "" does not: chromedp sends the empty
	// argument as undefined.)
	c.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = ''`, id)),
		chromedp.SendKeys(chromedp.ID(id), text))
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (c *chrome) eval(js string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		c.t.Fatalf("eval %s: %v", js, err)
	}
	return s
}

// check runs axe-core on the page (no serious or critical violation may
// stand), fails on any error in the console (a CSP refusal, a script
// error), and saves a screenshot.
func (c *chrome) check(name string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
		c.t.Fatalf("%s: inject axe: %v", name, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(async () => {
		const r = await axe.run(document, {
			runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
		});
		return {
			url: location.pathname,
			passes: r.passes.length,
			violations: r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
				nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' '))})),
		};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("%s: run axe: %v", name, err)
	}
	var res axeResult
	if err := json.Unmarshal(raw, &res); err != nil {
		c.t.Fatalf("%s: axe result: %v", name, err)
	}
	c.mu.Lock()
	c.axe[name] = res
	console := c.console
	c.console = nil
	c.mu.Unlock()
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			c.t.Errorf("%s: axe %s violation %s: %s\n  %s", name, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "\n  "))
		} else {
			c.t.Logf("%s: axe %s finding %s: %s (%d)", name, v.Impact, v.ID, v.Help, len(v.Nodes))
		}
	}
	here := c.eval(`location.href`)
	for _, m := range console {
		if m.Source == "network" && m.URL == here {
			continue // the page's own status: a 422 form or a 404 page is meant
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			c.t.Errorf("%s: console %s (%s): %s", name, m.Type, m.Source, m.Text)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("%s: screenshot: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	// DSR_SCREENSHOTS=dir also keeps a copy there (docs/screenshots).
	if dir := os.Getenv("DSR_SCREENSHOTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// writeAxeReport saves every page's axe results, and a summary.
func (c *chrome) writeAxeReport() {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.MarshalIndent(c.axe, "", "  ")
	os.WriteFile(filepath.Join(artifacts, "axe-results.json"), b, 0o644)
	var sum strings.Builder
	for _, name := range slices.Sorted(maps.Keys(c.axe)) {
		r := c.axe[name]
		counts := map[string]int{}
		for _, v := range r.Violations {
			counts[v.Impact]++
		}
		fmt.Fprintf(&sum, "%-28s %-48s passes %3d  critical %d serious %d moderate %d minor %d\n", name, r.URL, r.Passes,
			counts["critical"], counts["serious"], counts["moderate"], counts["minor"])
	}
	os.WriteFile(filepath.Join(artifacts, "axe-summary.txt"), []byte(sum.String()), 0o644)
	c.t.Logf("axe results:\n%s", sum.String())
}

func TestBrowserReferTriageReview(t *testing.T) {
	s := newSite(t)
	c := newChrome(t, s.srv.URL)

	// A professional signs in and refers someone, with one mistake.
	signInAs(c, "Pat Nurse")
	c.check("home-professional-empty")
	c.open("/referrals/new")
	c.check("referral-form")
	c.typeIn("person-given_name", "Alex")
	c.typeIn("person-family_name", "Example")
	c.typeIn("person-date_of_birth-day", "14")
	c.typeIn("person-date_of_birth-month", "2")
	c.typeIn("person-date_of_birth-year", "1996")
	c.typeIn("person-nhs_number", "943 476 5918") // the mistake: a wrong check digit
	c.typeIn("person-address", "12 Station Road\nChippenham")
	c.typeIn("person-postcode", "SN15 1AA")
	c.do(chromedp.SetValue(chromedp.ID("person-locality"), "Wiltshire"))
	c.typeIn("referrer-phone", "01249 000000")
	c.do(chromedp.Click(chromedp.ID("consent-capacity")))
	// The NHS frontend's script reveals the follow-up question.
	c.do(chromedp.WaitVisible(chromedp.ID("consent-informed")), chromedp.Click(chromedp.ID("consent-informed")))
	c.do(chromedp.Click(chromedp.ID("proposed_rag")))
	c.typeIn("current_issues", "Placement at risk after two crisis presentations at A&E")
	c.typeIn("tried", "Positive behaviour support plan; extra staff at night")
	c.typeIn("could_help", "Intensive support team; respite")
	c.typeIn("professionals-0-role", "Learning disability nurse")
	if st := c.submit(`main button[type="submit"]`); st != 422 {
		t.Fatalf("referral with a mistake: status %d, want 422", st)
	}
	c.do(chromedp.WaitVisible(chromedp.CSS(".nhsuk-error-summary")))
	if got := c.text(".nhsuk-error-summary"); !strings.Contains(got, "NHS number") {
		t.Fatalf("error summary: %q", got)
	}
	// The frontend's script moves focus to the summary, so a screen reader
	// reads it first: proof the module script runs under the CSP.
	if got := c.eval(`document.activeElement.closest('.nhsuk-error-summary') ? 'summary' : document.activeElement.tagName`); got != "summary" {
		t.Errorf("focus after errors: %s, want the error summary", got)
	}
	if v := c.eval(`document.getElementById('person-given_name').value`); v != "Alex" {
		t.Errorf("given name after errors: %q", v)
	}
	c.check("referral-form-errors")

	c.typeIn("person-nhs_number", "943 476 5919")
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("fixed referral: status %d", st)
	}
	if got := c.text("h1"); got != "Referral sent" {
		t.Fatalf("after referral: %q", got)
	}
	c.check("referral-sent")
	c.submit(`.nhsuk-header__account-button`) // sign out

	// Signed out: the self-referral form.
	c.open("/refer")
	c.check("self-referral-form")

	// The coordinator accepts the referral as red. The review after it is
	// held on the day the form offers: both on the same day.
	clearOfMidnight(t, 5*time.Minute)
	signInAs(c, "Cora Ordinator")
	c.open("/triage")
	c.check("triage-queue")
	c.submit(`a[href$="/triage"][href^="/people/"]`)
	c.check("triage-decision")
	c.do(chromedp.Click(chromedp.ID("decision")), chromedp.WaitVisible(chromedp.ID("rag")), chromedp.Click(chromedp.ID("rag")))
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("accept: status %d", st)
	}
	if got := c.text(`[data-testid="banner"]`); !strings.Contains(got, "Referral accepted") {
		t.Fatalf("banner %q", got)
	}
	if got := c.text(`[data-testid="rating"]`); !strings.Contains(got, "Red") {
		t.Errorf("rating shown %q", got)
	}
	c.check("record-accepted")

	// Then records a review with an action.
	c.submit(`a[href$="/review"]`)
	c.check("review-form")
	due := time.Now().In(register.London).AddDate(0, 0, 7)
	c.typeIn("notes", "Community CTR to be considered at the next meeting.")
	c.do(chromedp.Click(chromedp.ID("needs-intensive_support")))
	c.typeIn("actions-0-description", "Arrange a community Care and Treatment Review")
	c.typeIn("actions-0-owner_email", "pat@example.org")
	c.typeIn("actions-0-due-day", fmt.Sprint(due.Day()))
	c.typeIn("actions-0-due-month", fmt.Sprint(int(due.Month())))
	c.typeIn("actions-0-due-year", fmt.Sprint(due.Year()))
	// Room for a third action, without losing what is typed; the focus
	// goes to the new row.
	if st := c.submit(`main button[name="add_row"]`); st != 200 {
		t.Fatalf("add another action: status %d", st)
	}
	if got := c.eval(`document.activeElement.id`); got != "actions-2-description" {
		t.Errorf("focus after adding an action: %q", got)
	}
	if v := c.eval(`document.getElementById('actions-0-description').value`); v != "Arrange a community Care and Treatment Review" {
		t.Errorf("first action after adding a row: %q", v)
	}
	c.check("review-form-added-row")
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("review: status %d", st)
	}
	if got := c.text(`[data-testid="banner"]`); !strings.Contains(got, "Review recorded") {
		t.Fatalf("banner %q", got)
	}
	if got := c.text(`[data-testid="open-actions"]`); !strings.Contains(got, "Arrange a community Care and Treatment Review") {
		t.Errorf("open actions: %q", got)
	}
	c.check("record")

	// Others on the register, so the home page and the reports have
	// something to show.
	id := strings.TrimPrefix(c.eval(`location.pathname`), "/people/")
	seed(t, s)

	// Every other page, for axe.
	for _, p := range []struct{ name, path string }{
		{"home", "/"},
		{"rating-form", "/people/" + id + "/rating"},
		{"action-form", "/people/" + id + "/actions/new"},
		{"professionals-form", "/people/" + id + "/professionals"},
		{"discharge-form", "/people/" + id + "/discharge"},
		{"reports", "/reports"},
		{"reports-custom-period", "/reports?period=custom&from-day=1&from-month=4&from-year=2025&to-day=31&to-month=3&to-year=2026"},
		{"reports-period-errors", "/reports?period=custom&from-day=31&from-month=2&from-year=2026"},
		{"mail", "/dev/mail"},
		{"mail-message", "/dev/mail/1"},
		{"not-found", "/people/00000000-0000-0000-0000-000000000000"},
	} {
		c.open(p.path)
		c.check(p.name)
	}
	c.open("/people/" + id)
	c.submit(`a[href*="/actions/"][href$="/complete"]`)
	c.check("complete-action-form")
	c.open("/people/" + id + "/rating")
	if st := c.submit(`main button[type="submit"]`); st != 422 {
		t.Errorf("empty rating form: %d", st)
	}
	c.check("rating-form-errors")
}

// signInAs signs in on the dev sign-in page by the user's name.
func signInAs(c *chrome, name string) {
	c.t.Helper()
	c.open("/signin")
	sel := fmt.Sprintf(`//button[contains(normalize-space(.), "Sign in as %s")]`, name)
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(sel)); err != nil {
		c.t.Fatalf("sign in as %s: %v", name, err)
	}
	if got := c.text(`[data-testid="user-name"]`); got != name {
		c.t.Fatalf("signed in as %q, want %q", got, name)
	}
}

// seed puts a dozen more people on the register, one of them overdue for
// review, and one more waiting for a decision.
func seed(t *testing.T, s *site) {
	t.Helper()
	people := []struct {
		given, family string
		rating        register.Rating
	}{
		{"Jordan", "Blake", register.Red}, {"Priya", "Shah", register.Amber}, {"Sam", "Okafor", register.Amber},
		{"Megan", "Hughes", register.Amber}, {"Tom", "Reid", register.Amber}, {"Leah", "Price", register.Amber},
		{"Ollie", "Grant", register.Green}, {"Aisha", "Khan", register.Green}, {"Ben", "Walsh", register.Green},
		{"Chloe", "Evans", register.Green}, {"Dan", "Moss", register.Green}, {"Ruth", "Fox", register.Blue},
	}
	for i, p := range people {
		id := s.refer(p.given, p.family, nhsNumber(5000+i), "pat@example.org")
		s.accept(id, p.rating)
		if i == 1 {
			if _, err := s.store.Pool.Exec(context.Background(),
				`UPDATE people SET next_review_due = now() - interval '3 days' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.refer("Kai", "Turner", nhsNumber(6000), "pat@example.org")
}
