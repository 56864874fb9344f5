package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
)

// nhsNumber returns a valid NHS number (Modulus 11) made from seed, or ""
// when that prefix has no valid check digit (remainder 10).
func nhsNumber(seed int) string {
	prefix := fmt.Sprintf("%09d", 400000000+seed%500000000)
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(prefix[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return ""
	}
	return prefix + strconv.Itoa(check)
}

// nhsNumbers returns n distinct valid NHS numbers from seed on.
func nhsNumbers(seed, n int) []string {
	var out []string
	for i := seed; len(out) < n; i++ {
		if s := nhsNumber(i); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// defaultTiming is the register's default timing (7d red, 28d amber, 91d
// green, 28d blue; reminders 3d ahead), as dsr runs without configuration.
func defaultTiming(t testing.TB) register.Timing {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Timing
}

// raw sends a request without failing the test, so it is safe from other
// goroutines; token "" sends none. It returns the status, headers and body.
func (s *stack) raw(email, method, path string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, s.api.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if email != "" {
		req.Header.Set("Authorization", "Bearer "+s.tokens[email])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// rowCounts counts the rows a referral or an import writes.
type rowCounts struct{ people, professionals, audit, ratings int }

func (s *stack) rowCounts() rowCounts {
	s.t.Helper()
	var c rowCounts
	err := s.store.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM professionals),
		(SELECT count(*) FROM audit_log), (SELECT count(*) FROM rating_history)`).Scan(&c.people, &c.professionals, &c.audit, &c.ratings)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// starterDeps is what dsr start gets, on this stack.
func (s *stack) starterDeps() starter.Deps {
	return starter.Deps{Store: s.store, Temporal: s.client, Timing: s.cfg.Timing, Logger: s.logger}
}

// csvFile builds a register CSV: rows are cell maps by column name;
// lineOf records the line each row starts on.
type csvFile struct {
	header  []string
	buf     bytes.Buffer
	w       *csv.Writer
	counted int // bytes of buf whose newlines are in lines
	lines   int
	lineOf  []int
}

func newCSVFile(t testing.TB, bom, crlf bool, header []string) *csvFile {
	f := &csvFile{header: header}
	if bom {
		f.buf.WriteString("\ufeff")
	}
	f.w = csv.NewWriter(&f.buf)
	f.w.UseCRLF = crlf
	f.add(nil, header)
	return f
}

// row appends a row and returns the line it starts on.
func (f *csvFile) row(cells map[string]string, extra ...string) int {
	rec := make([]string, len(f.header))
	for i, h := range f.header {
		rec[i] = cells[h]
	}
	return f.add(cells, append(rec, extra...))
}

func (f *csvFile) add(_ map[string]string, rec []string) int {
	f.w.Flush()
	f.lines += bytes.Count(f.buf.Bytes()[f.counted:], []byte("\n"))
	f.counted = f.buf.Len()
	line := f.lines + 1
	f.w.Write(rec)
	f.w.Flush()
	f.lineOf = append(f.lineOf, line)
	return line
}

func (f *csvFile) bytes() []byte { f.w.Flush(); return f.buf.Bytes() }

// goodRow is a valid active person for the register CSV.
func goodRow(nhs, given string, rag register.Rating, lastReview string) map[string]string {
	return map[string]string{
		"given_name": given, "family_name": "Importperson", "date_of_birth": "01/04/1990", "nhs_number": nhs,
		"address": "1 High Street", "postcode": "sn1 1aa", "locality": "Swindon",
		"consent_basis": "Informed consent", "consent_recorded_on": "02/01/2025", "consent_recorded_by": "Sam Worker",
		"rag": string(rag), "status": "active", "last_review_date": lastReview,
		"current_issues": "placement under strain", "tried": "extra hours", "could_help": "respite",
		"professional1_name": "Sam Worker", "professional1_role": "Social worker", "professional1_organisation": "SBC",
		"professional1_email": "sw@example.org", "professional1_manager_email": "mgr@example.org",
		"professional2_name": "Nia Nurse", "professional2_email": "Nurse@Example.org",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// londonDate formats a day relative to now as DD/MM/YYYY, as spreadsheets
// write it.
func londonDate(now time.Time, days int) string {
	return now.In(register.London).AddDate(0, 0, days).Format("02/01/2006")
}
