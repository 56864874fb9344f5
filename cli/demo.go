//go:build !lean

package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
)

// demoFlag makes dsr dev load fictitious people on a first run.
const demoFlag = "--demo"

// The demo register: 30 fictitious people. Their NHS numbers are from the
// range reserved for testing (register.TestRangeNHS), never a real-looking
// one; names, addresses and notes are made up.
const (
	demoImported = 20 // through the CSV import, as an existing register is loaded
	demoReferred = 10 // through the API, as staff refer and triage
)

var demoGiven = []string{"Ada", "Bram", "Cleo", "Dara", "Ezra", "Fern", "Gil", "Hana", "Ivo", "Juno",
	"Kai", "Lark", "Milo", "Nell", "Otis", "Pia", "Quill", "Rory", "Sage", "Tova",
	"Ulla", "Vale", "Wren", "Xavi", "Yara", "Zeb", "Arlo", "Bex", "Cas", "Dot"}

var demoFamily = []string{"Example", "Sample", "Specimen", "Placeholder", "Mockford", "Testwood", "Demoline", "Fictus", "Madeup", "Pretendon"}

// loadDemo fills an empty register with the demo people, through the
// normal paths: a CSV import (as a team's existing register is brought in)
// and, for the rest, the HTTP API with the
// demo users' tokens (referrals, triage, reviews with actions, a rating
// change, a completed action, a discharge). It does nothing when the
// register holds anyone already, so a restart never doubles it.
func loadDemo(ctx context.Context, base string, users []demoUser, st *store.Store, tc client.Client, cfg config.Config, logger *slog.Logger) (string, error) {
	counts, err := st.PeopleCounts(ctx)
	if err != nil {
		return "", err
	}
	if len(counts) > 0 {
		return "not loaded: the register has people already", nil
	}
	now := time.Now()
	sum, err := starter.Import(ctx, starter.Deps{
		Store: st, Temporal: tc, Timing: cfg.Timing, Localities: cfg.Localities, Logger: logger,
		Actor: register.Actor{Role: starter.StarterRole, ClientAddr: "dsr dev --demo"},
	}, bytes.NewReader(demoCSV(now, cfg.Localities)), starter.ImportOptions{})
	if err != nil {
		return "", fmt.Errorf("demo import: %w", err)
	}
	if len(sum.Refused) > 0 {
		return "", fmt.Errorf("demo import: %d rows refused: %+v", len(sum.Refused), sum.Refused)
	}
	tokens := map[string]string{}
	for _, u := range users {
		tokens[u.Email] = u.Token
	}
	api := demoAPI{base: base, c: &http.Client{Timeout: time.Minute}}
	for i := demoImported; i < demoImported+demoReferred; i++ {
		if err := api.person(ctx, i, now, tokens, cfg.Localities); err != nil {
			return "", fmt.Errorf("demo person %d: %w", i, err)
		}
	}
	return fmt.Sprintf("%d fictitious people loaded (%d imported, %d referred through the API)", sum.Imported+demoReferred, sum.Imported, demoReferred), nil
}

// demoCSV is the imported part of the demo register: people with every
// rating, some referred and waiting, one discharged, one declined, and
// last reviews up to seven weeks back (those already lapsed the import
// spreads over the coming interval, as it does for any register).
func demoCSV(now time.Time, localities register.Localities) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(register.CSVHeader(1))
	col := map[string]int{}
	for i, c := range register.CSVHeader(1) {
		col[c] = i
	}
	day := func(daysAgo int) string { return now.AddDate(0, 0, -daysAgo).Format("2006-01-02") }
	for i := range demoImported {
		row := make([]string, len(col))
		set := func(c, v string) { row[col[c]] = v }
		p := demoPersonal(i, localities)
		set("given_name", p.given)
		set("family_name", p.family)
		set("date_of_birth", p.born)
		set("nhs_number", p.nhs)
		set("address", p.address)
		set("postcode", p.postcode)
		set("locality", p.locality)
		set("consent_basis", "informed_consent")
		set("consent_recorded_on", day(200))
		set("consent_recorded_by", "Pat Nurse")
		set("rag", string(register.Ratings[i%len(register.Ratings)]))
		set("referred_on", day(60+i*7))
		switch {
		case i >= 16 && i < 18:
			set("status", "referred")
			set("referred_on", day(i-14)) // waiting a day or two
		case i == 18:
			set("status", "discharged")
		case i == 19:
			set("status", "declined")
		default:
			set("status", "active")
			// From 2 to 47 days ago, against 7, 28 and 91 day cycles.
			set("last_review_date", day(2+(i*9)%46))
		}
		set("current_issues", "Demo: placement under strain")
		set("tried", "Demo: extra support hours")
		set("could_help", "Demo: respite")
		set("referrer_name", "Rhi Referrer")
		set("referrer_email", "referrer@example.org")
		set("referrer_organisation", "Demo CTPLD")
		set("professional1_name", "Pat Nurse")
		set("professional1_role", "Community nurse")
		set("professional1_organisation", "Wiltshire CTPLD")
		set("professional1_email", "pat.nurse@example.org")
		set("professional1_manager_email", "manager@example.org")
		w.Write(row)
	}
	w.Flush()
	return b.Bytes()
}

// demoPerson is one fictitious person's details.
type demoPerson struct {
	given, family, born, nhs, address, postcode, locality string
}

func demoPersonal(i int, localities register.Localities) demoPerson {
	nhs, _ := register.TestRangeNHS(i)
	if len(localities) == 0 {
		localities = register.DefaultLocalities
	}
	return demoPerson{
		given:    demoGiven[i%len(demoGiven)],
		family:   demoFamily[i%len(demoFamily)],
		born:     fmt.Sprintf("%d-%02d-%02d", 1975+i, 1+i%12, 1+i%28),
		nhs:      nhs,
		address:  strconv.Itoa(i+1) + " Demo Street",
		postcode: fmt.Sprintf("SN%d %dAA", 1+i%9, 1+i%9),
		locality: localities[i%len(localities)],
	}
}

// demoAPI makes the demo's changes through the HTTP API.
type demoAPI struct {
	base string
	c    *http.Client
}

// person refers person i and takes them along one of the paths staff do.
func (a demoAPI) person(ctx context.Context, i int, now time.Time, tokens map[string]string, localities register.Localities) error {
	p := demoPersonal(i, localities)
	prof, coord := tokens["pat.nurse@example.org"], tokens["coordinator@example.org"]
	rating := register.Ratings[i%len(register.Ratings)]
	var created struct{ ID string }
	if err := a.do(ctx, prof, "POST", "/api/v1/referrals", map[string]any{
		"person": map[string]any{"given_name": p.given, "family_name": p.family, "date_of_birth": p.born,
			"nhs_number": p.nhs, "address": p.address, "postcode": p.postcode, "locality": p.locality},
		"referrer":     map[string]any{"name": "Pat Nurse", "email": "pat.nurse@example.org", "organisation": "Wiltshire CTPLD", "phone": "01225 000000"},
		"consent":      map[string]any{"basis": "informed_consent", "recorded_on": now.AddDate(0, 0, -3).Format("2006-01-02"), "recorded_by": "Pat Nurse"},
		"proposed_rag": string(rating), "current_issues": "Demo: family carer unwell", "tried": "Demo: short breaks",
		"could_help": "Demo: intensive support at home",
		"professionals": []map[string]any{{"name": "Pat Nurse", "role": "Community nurse", "organisation": "Wiltshire CTPLD",
			"email": "pat.nurse@example.org", "manager_email": "manager@example.org"}},
	}, &created); err != nil {
		return err
	}
	person := "/api/v1/people/" + created.ID
	step := i - demoImported
	switch {
	case step < 2: // waiting for triage
		return nil
	case step == 2:
		return a.do(ctx, coord, "POST", person+"/triage", map[string]any{"decision": "decline", "reason": "Demo: needs met by the local team"}, nil)
	}
	if err := a.do(ctx, coord, "POST", person+"/triage", map[string]any{"decision": "accept", "rag": string(rating)}, nil); err != nil {
		return err
	}
	// Nothing can be entered overdue (a due date must be in the future,
	// a review's date after the triage), so some actions fall due a minute
	// after loading and are overdue while you look; the others are due in a
	// fortnight.
	due := now.Add(14 * 24 * time.Hour)
	if step%2 == 1 {
		due = now.Add(time.Minute)
	}
	if err := a.do(ctx, prof, "POST", person+"/reviews", map[string]any{
		"rag": string(rating), "current_issues": "Demo: sleep disturbed", "tried": "Demo: new routine",
		"could_help": "Demo: positive behaviour support", "notes": "Demo review notes", "needs": []string{"positive_behaviour_support", "respite"},
		"actions": []map[string]any{{"description": "Demo: arrange a respite assessment", "owner_email": "pat.nurse@example.org", "due": due.Format(time.RFC3339)}},
	}, nil); err != nil {
		return err
	}
	switch step {
	case 4: // a rating change between reviews
		to := register.Red
		if rating == register.Red {
			to = register.Amber
		}
		return a.do(ctx, prof, "PUT", person+"/rag", map[string]any{"rag": string(to), "reason": "Demo: things have changed"}, nil)
	case 5: // an action done, with its outcome
		var act struct{ ID string }
		if err := a.do(ctx, prof, "POST", person+"/actions", map[string]any{"description": "Demo: speak to the housing team",
			"owner_email": "pat.nurse@example.org", "due": now.Add(7 * 24 * time.Hour).Format(time.RFC3339)}, &act); err != nil {
			return err
		}
		return a.do(ctx, prof, "POST", person+"/actions/"+act.ID+"/complete", map[string]any{"outcome": "Demo: housing visit booked"}, nil)
	case 8, 9: // back in the community
		return a.do(ctx, coord, "POST", person+"/discharge", map[string]any{"reason": "Demo: settled with support"}, nil)
	}
	return nil
}

// do sends one JSON request and decodes a 2xx answer into out.
func (a demoAPI) do(ctx context.Context, token, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		// The answer names the field at fault, never the person's details.
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
