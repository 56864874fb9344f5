package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestCSVImportAndExport: a register CSV with good rows, bad rows of each
// kind, a repeated row, a person already referred, a BOM and Windows line
// endings is imported: good rows stored and started with their first
// reviews planned (and the lapsed ones spread), bad rows reported by line
// and column without their values; imported again, nothing is imported
// twice and the import says so; exported, the file reads back as the same
// rows and imports as nothing new.
func TestCSVImportAndExport(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	ctx := context.Background()
	now := time.Now()
	timing := s.cfg.Timing
	nhs := nhsNumbers(2000, 40)

	// Someone already referred through the API.
	var referred struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs[0], "Alreadyhere"), &referred)

	f := newCSVFile(t, true, true, register.CSVColumns)
	type good struct {
		line int
		nhs  string
	}
	amber := good{f.row(goodRow(nhs[1], "Amberfresh", register.Amber, londonDate(now, -3))), nhs[1]}
	lapsed := good{f.row(goodRow(nhs[2], "Redlapsed", register.Red, londonDate(now, -60))), nhs[2]}
	never := good{f.row(goodRow(nhs[3], "Greennever", register.Green, "")), nhs[3]}
	soon := good{f.row(goodRow(nhs[4], "Redsoon", register.Red, londonDate(now, -6))), nhs[4]} // due tomorrow: within the lead
	// Waiting three weeks in the spreadsheet for a decision.
	waiting := good{f.row(with(goodRow(nhs[5], "Waiting", register.Amber, ""), "status", "referred", "referred_on", londonDate(now, -21))), nhs[5]}
	gone := good{f.row(with(goodRow(nhs[6], "Gone", register.Blue, londonDate(now, -400)), "status", "Discharged")), nhs[6]}
	odd := good{f.row(with(goodRow(nhs[7], "Zoë O'Brien 😀", register.Amber, "2026-01-05"),
		"family_name", "'; DROP TABLE people; --", "address", "Flat 2\r\n\"The Mill\"",
		"current_issues", "<script>alert(1)</script>", "tried", "'=SUM(A1:A9)", "could_help", "-2 hours")), nhs[7]}
	dupOfAPI := f.row(goodRow(nhs[0], "Alreadyhere", register.Red, ""))

	badNHS := nhs[8][:9] + string('0'+(nhs[8][9]-'0'+1)%10)
	bad := map[int]string{ // line → the column that must be named
		f.row(goodRow(badNHS, "Badcheck", register.Red, "")):                                                   "nhs_number",
		f.row(with(goodRow(nhs[9], "Baddate", register.Red, ""), "date_of_birth", "31/02/1990")):               "date_of_birth",
		f.row(with(goodRow(nhs[10], "Future", register.Red, ""), "date_of_birth", londonDate(now, 3))):         "date_of_birth",
		f.row(with(goodRow(nhs[11], "Noconsent", register.Red, ""), "consent_basis", "")):                      "consent_basis",
		f.row(with(goodRow(nhs[12], "Adult", register.Red, ""), "consent_basis", "parental responsibility")):   "consent_basis",
		f.row(with(goodRow(nhs[13], "Noemail", register.Red, ""), "professional1_email", "")):                  "professional1_email",
		f.row(with(goodRow(nhs[14], "Bademail", register.Red, ""), "professional2_email", "nurse at example")): "professional2_email",
		f.row(with(goodRow(nhs[15], "Purple", "purple", ""))):                                                  "rag",
		f.row(with(goodRow(nhs[16], "Paused", register.Red, ""), "status", "paused")):                          "status",
		f.row(with(goodRow(nhs[17], "Reviewed", register.Red, londonDate(now, 5)))):                            "last_review_date",
		f.row(goodRow(nhs[18], "Extracell", register.Red, ""), "stray value"):                                  "row",
		f.row(with(goodRow(nhs[1], "Twice", register.Amber, ""))):                                              "nhs_number", // repeats line of amber
	}
	f.row(map[string]string{}) // a blank row, skipped
	file := f.bytes()
	if !bytes.HasPrefix(file, []byte("\ufeff")) || !bytes.Contains(file, []byte("\r\n")) {
		t.Fatal("fixture lacks the BOM or CRLF")
	}
	goods := []good{amber, lapsed, never, soon, waiting, gone, odd}

	before := s.rowCounts()
	var progress bytes.Buffer
	sum, err := starter.Import(ctx, s.starterDeps(), bytes.NewReader(file), starter.ImportOptions{Progress: &progress, ProgressEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != len(goods)+1+len(bad) || sum.Imported != len(goods) || sum.Started != len(goods)-1 || sum.Deferred != 0 {
		t.Errorf("summary: %d rows, %d imported, %d started, %d deferred", sum.Rows, sum.Imported, sum.Started, sum.Deferred)
	}
	if len(sum.Already) != 1 || sum.Already[0].Line != dupOfAPI || sum.Already[0].ID != referred.ID {
		t.Errorf("already: %+v, want line %d with id %s", sum.Already, dupOfAPI, referred.ID)
	}
	var refusedLines []int
	for _, r := range sum.Refused {
		refusedLines = append(refusedLines, r.Line)
		col := bad[r.Line]
		if col == "" || !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.HasPrefix(p, col+": ") }) {
			t.Errorf("line %d: problems %q, want one on %s", r.Line, r.Problems, col)
		}
	}
	if len(refusedLines) != len(bad) {
		t.Errorf("refused lines %v, want %d of them", refusedLines, len(bad))
	}
	if !strings.Contains(progress.String(), "rows read") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	after := s.rowCounts()
	if after.people != before.people+len(goods) || after.audit != before.audit+len(goods) || after.ratings != before.ratings+len(goods)-1 {
		t.Errorf("rows %+v → %+v", before, after)
	}

	// Each good row is on the register as its row says.
	idOf := func(nhs string) string {
		var id string
		if err := s.store.Pool.QueryRow(ctx, `SELECT id::text FROM people WHERE nhs_number = $1 ORDER BY episode DESC LIMIT 1`, nhs).Scan(&id); err != nil {
			t.Fatalf("no record for %s: %v", nhs, err)
		}
		return id
	}
	get := func(nhs string) register.Person {
		var p register.Person
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+idOf(nhs), nil, &p)
		return p
	}
	lastOf := func(days int) time.Time {
		y, m, d := now.In(register.London).AddDate(0, 0, days).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, register.London)
	}
	p := get(amber.nhs)
	// Review intervals are calendar days in London: 28 days after a London
	// midnight is a London midnight, 28×24 h ± 1 h when the clocks change.
	amberDays := int(timing.Interval(register.Amber) / (24 * time.Hour))
	if p.Status != register.Active || p.Rating != register.Amber || p.NextReviewDue == nil ||
		!p.NextReviewDue.Equal(lastOf(-3+amberDays)) {
		t.Errorf("amber: %s %s due %v, want last review + 28d", p.Status, p.Rating, p.NextReviewDue)
	}
	if len(p.Professionals) != 2 || p.Professionals[1].Email != "nurse@example.org" || p.Postcode != "SN1 1AA" ||
		len(p.RatingHistory) != 1 || p.RatingHistory[0].Reason != "imported from the register spreadsheet" {
		t.Errorf("amber record: %+v", p)
	}
	for _, g := range []good{lapsed, never, soon, odd} {
		p := get(g.nhs)
		interval := timing.Interval(p.Rating)
		lo := now.Add(timing.ReminderLead)
		hi := lo.Add(interval + 24*time.Hour)
		if p.NextReviewDue == nil || p.NextReviewDue.Before(lo) || p.NextReviewDue.After(hi) {
			t.Errorf("line %d (%s): due %v, want spread in [%v, %v]", g.line, p.Rating, p.NextReviewDue, lo, hi)
		}
		want, spread := starter.FirstReview(timing, g.nhs, p.Rating, p.LastReviewAt, now)
		if !spread || !want.Equal(*p.NextReviewDue) {
			t.Errorf("line %d: due %v, FirstReview says %v (spread %v)", g.line, p.NextReviewDue, want, spread)
		}
	}
	if sum.Spread != 4 { // lapsed, never, soon and odd (last reviewed in January)
		t.Errorf("spread %d, want 4", sum.Spread)
	}
	if p := get(waiting.nhs); p.Status != register.Referred || p.Rating != "" || p.ProposedRAG != register.Amber || p.NextReviewDue != nil {
		t.Errorf("referred row: %s rating %q proposed %q due %v", p.Status, p.Rating, p.ProposedRAG, p.NextReviewDue)
	}
	// It keeps its referral date; everyone imported has the import's time.
	if p := get(waiting.nhs); p.ReferredAt.In(register.London).Format("02/01/2006") != londonDate(now, -21) || p.ImportedAt == nil || p.ImportedAt.Before(now) {
		t.Errorf("referred row: referred at %v, imported at %v", p.ReferredAt, p.ImportedAt)
	}
	if p := get(amber.nhs); p.ImportedAt == nil || !p.ReferredAt.Equal(*p.ImportedAt) {
		t.Errorf("a row without a referral date: referred at %v, imported at %v", p.ReferredAt, p.ImportedAt)
	}
	if p := get(gone.nhs); p.Status != register.Discharged || p.ClosedAt == nil {
		t.Errorf("discharged row: %s", p.Status)
	}
	if p := get(odd.nhs); p.GivenName != "Zoë O'Brien 😀" || p.FamilyName != "'; DROP TABLE people; --" ||
		p.Address != "Flat 2\n\"The Mill\"" || p.CurrentIssues != "<script>alert(1)</script>" || p.Tried != "=SUM(A1:A9)" || p.CouldHelp != "-2 hours" {
		t.Errorf("odd text: %q %q %q %q %q %q", p.GivenName, p.FamilyName, p.Address, p.CurrentIssues, p.Tried, p.CouldHelp)
	}

	// Each workflow picked up its planned review from the record.
	for _, g := range []good{amber, lapsed, never, soon, waiting, odd} {
		id := idOf(g.nhs)
		var sched workflows.Schedule
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := s.client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QuerySchedule)
			if err == nil {
				err = v.Get(&sched)
			}
			if err == nil && sched.Status != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("schedule of line %d: %v", g.line, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		p := get(g.nhs)
		if sched.Status != p.Status || (p.NextReviewDue == nil) != (sched.NextReviewDue == nil) ||
			(p.NextReviewDue != nil && !sched.NextReviewDue.Equal(*p.NextReviewDue)) {
			t.Errorf("line %d: workflow schedule %+v, record %s due %v", g.line, sched, p.Status, p.NextReviewDue)
		}
		// The referral that waited three weeks is overdue by the policy, but
		// its triage-overdue notice comes the full triage time after the
		// import, not the moment it is imported.
		if g == waiting {
			if len(sched.Pending) != 1 || sched.Pending[0].Kind != register.TriageOverdue ||
				!sched.Pending[0].At.Equal(p.ImportedAt.Add(timing.TriageWithin)) {
				t.Errorf("waiting referral's pending notices %+v, want triage-overdue at %v", sched.Pending, p.ImportedAt.Add(timing.TriageWithin))
			}
		}
	}
	// No thundering herd: the only notice is the referral made through the
	// API (the imported referral waits in the spreadsheet: not announced).
	s.waitMail("referral-received", referred.ID, 20*time.Second)
	time.Sleep(2 * time.Second) // time for a notice that should not be sent to be sent
	kinds, _ := s.store.Pool.Query(ctx, `SELECT kind, person_id::text FROM notices`)
	for kinds.Next() {
		var k, who string
		kinds.Scan(&k, &who)
		if k != string(register.ReferralReceived) || who != referred.ID {
			t.Errorf("a %s notice on import day (person %s)", k, who)
		}
	}
	kinds.Close()

	// Again, through the command: nothing imported twice, and it says so.
	dir := t.TempDir()
	path := filepath.Join(dir, "register.csv")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	before = s.rowCounts()
	var stdout, stderr bytes.Buffer
	err = starter.Command(ctx, []string{"--csv", path}, &stdout, &stderr, s.starterDeps())
	if err == nil || !strings.Contains(err.Error(), "12 rows refused") {
		t.Errorf("second run: error %v, want the refused rows counted", err)
	}
	if got := stdout.String(); got != "imported 0, already on the register 8, refused 12\n" {
		t.Errorf("second run stdout %q", got)
	}
	if s.rowCounts() != before {
		t.Errorf("second run wrote rows")
	}
	out := stderr.String()
	for _, want := range []string{"7 by an earlier import", "line " + strconv.Itoa(refusedLines[0]) + ":", "consent_basis: "} {
		if !strings.Contains(out, want) {
			t.Errorf("second run report lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"Amberfresh", "Badcheck", "Importperson", nhs[1], "1990", "sw@example.org", "stray value", "nurse at example"} {
		if strings.Contains(out, secret) {
			t.Errorf("the report shows a row's value %q:\n%s", secret, out)
		}
	}

	// Export: coordinator only, audited, and it reads back as the rows.
	if st, _, _, _ := s.raw("sw@example.org", "GET", "/api/v1/people.csv", nil); st != http.StatusForbidden {
		t.Errorf("professional export: %d", st)
	}
	auditBefore := s.rowCounts().audit
	st, hdr, body, err := s.raw("coord@example.org", "GET", "/api/v1/people.csv", nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("export: %d %v %s", st, err, body)
	}
	if ct, cd := hdr.Get("Content-Type"), hdr.Get("Content-Disposition"); ct != "text/csv; charset=utf-8" || !strings.HasPrefix(cd, "attachment; filename=") {
		t.Errorf("export headers %q %q", ct, cd)
	}
	var people int
	s.store.Pool.QueryRow(ctx, `SELECT count(DISTINCT nhs_number) FROM people`).Scan(&people)
	exported, err := register.ParseRegisterCSV(bytes.NewReader(body), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) != people {
		t.Fatalf("exported %d rows, the register has %d people", len(exported), people)
	}
	var exports int
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'export' AND user_id IS NOT NULL`).Scan(&exports)
	if exports != people || s.rowCounts().audit != auditBefore+people {
		t.Errorf("%d export audit entries, want %d", exports, people)
	}
	original, err := register.ParseRegisterCSV(bytes.NewReader(file), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	byNHS := map[string]register.CSVRow{}
	for _, r := range exported {
		if !r.OK() {
			t.Errorf("exported line %d does not import: %v", r.Line, r.ProblemList())
		}
		byNHS[r.Referral.Person.NHSNumber] = r
	}
	for _, g := range goods {
		var in register.CSVRow
		for _, r := range original {
			if r.Line == g.line {
				in = r
			}
		}
		ex, ok := byNHS[g.nhs]
		if !ok {
			t.Errorf("line %d not exported", g.line)
			continue
		}
		if !reflect.DeepEqual(in.Referral, ex.Referral) || in.Status != ex.Status || in.Rating != ex.Rating ||
			!reflect.DeepEqual(in.LastReview, ex.LastReview) || (in.ReferredOn != nil && !reflect.DeepEqual(in.ReferredOn, ex.ReferredOn)) {
			t.Errorf("line %d does not round-trip:\n in  %+v %s %s %v\n out %+v %s %s %v", g.line,
				in.Referral, in.Status, in.Rating, in.LastReview, ex.Referral, ex.Status, ex.Rating, ex.LastReview)
		}
	}
	// The export imports as nothing new.
	before = s.rowCounts()
	sum, err = starter.Import(ctx, s.starterDeps(), bytes.NewReader(body), starter.ImportOptions{})
	if err != nil || sum.Imported != 0 || len(sum.Refused) != 0 || len(sum.Already) != people {
		t.Errorf("re-import of the export: %d imported, %d refused, %d already (want %d), %v",
			sum.Imported, len(sum.Refused), len(sum.Already), people, err)
	}
	var report bytes.Buffer
	sum.WriteSummary(&report)
	if !strings.Contains(report.String(), "nothing to import") {
		t.Errorf("report: %s", report.String())
	}
	if s.rowCounts().people != before.people {
		t.Errorf("re-import of the export wrote people")
	}
}

// TestConcurrentImportsImportOnce: the same file imported twice at once
// puts each person on the register once.
func TestConcurrentImportsImportOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	const rows = 300
	file := registerOf(rows, time.Now())
	var sums [2]starter.Summary
	var errs [2]error
	var wg sync.WaitGroup
	for i := range sums {
		wg.Go(func() {
			sums[i], errs[i] = starter.Import(context.Background(), s.starterDeps(), bytes.NewReader(file), starter.ImportOptions{Workers: 8})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	imported := sums[0].Imported + sums[1].Imported
	already := len(sums[0].Already) + len(sums[1].Already)
	started := sums[0].Started + sums[1].Started
	if imported != rows || already != rows || started != rows-rows/20 {
		t.Errorf("imported %d, already %d, started %d; want %d, %d, %d", imported, already, started, rows, rows, rows-rows/20)
	}
	c := s.rowCounts()
	var creates int
	s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'create'`).Scan(&creates)
	if c.people != rows || c.professionals != 2*rows || creates != rows {
		t.Errorf("%d people, %d professionals, %d create entries; want %d, %d, %d", c.people, c.professionals, creates, rows, 2*rows, rows)
	}
}
