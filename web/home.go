package web

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// homePage is "My register": the people the user may see, grouped by rating.
type homePage struct {
	Counts     []countItem
	Groups     []group
	Filter     homeFilter
	Statuses   []option
	Localities []string
	Shown      int
	Filtered   bool
	Role       string
}

type homeFilter struct {
	Rating   string
	Status   string
	Locality string
}

type option struct {
	Value, Text string
}

type countItem struct {
	Label string
	Class string
	N     int
	Href  string
}

type group struct {
	ID     string
	Title  string
	Rating register.Rating
	People []personRow
}

type personRow struct {
	store.PersonSummary
	Overdue bool
}

// statusAll is the status filter's value for every status.
const statusAll = "all"

// listAll pages through a list to its end. The register is a few hundred
// people per area, so one page holds everyone a person may see.
func (s *server) listAll(ctx context.Context, a register.Actor, f store.ListFilter, audited bool) ([]store.PersonSummary, error) {
	var out []store.PersonSummary
	f.Limit = 500
	for {
		var list []store.PersonSummary
		var next string
		var err error
		if audited {
			list, next, err = s.d.Store.ListPeopleAudited(ctx, a, f)
		} else {
			list, next, err = s.d.Store.ListPeople(ctx, a, f)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	u, _ := s.user(r)
	switch u.Role {
	case store.RoleCommissioner:
		if s.d.Reports != nil {
			seeOther(w, r, "/reports")
			return
		}
	case store.RoleAuditor:
		s.render(w, r, http.StatusOK, "home", s.newView(r, "My register", "home", homePage{Role: u.Role}))
		return
	}
	if u.Role == store.RoleCommissioner {
		s.render(w, r, http.StatusOK, "home", s.newView(r, "My register", "home", homePage{Role: u.Role}))
		return
	}

	q := r.URL.Query()
	filter := homeFilter{Rating: q.Get("rag"), Status: q.Get("status"), Locality: q.Get("locality")}
	if !register.Rating(filter.Rating).Valid() {
		filter.Rating = ""
	}
	if filter.Status != statusAll && !register.Status(filter.Status).Valid() {
		filter.Status = ""
	}
	now := s.now()
	a := s.actor(r)

	// Counts and the list of areas come from everything the user may see,
	// read without auditing: no one's details leave the server with them.
	everyone, err := s.listAll(r.Context(), a, store.ListFilter{Now: now}, false)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p := homePage{Filter: filter, Role: u.Role, Filtered: filter != homeFilter{}}
	p.Statuses = []option{{"", "Referred or on the register"}, {string(register.Active), "On the register"},
		{string(register.Referred), "Referred, waiting for a decision"}, {string(register.Discharged), "Discharged"},
		{string(register.Declined), "Declined"}, {statusAll, "Any status"}}
	counts := map[register.Rating]int{}
	referred := 0
	localities := map[string]bool{}
	for _, l := range s.d.Config.Localities.OrDefault() {
		localities[l] = true
	}
	for _, ps := range everyone {
		if ps.Locality != "" {
			localities[ps.Locality] = true
		}
		switch ps.Status {
		case register.Active:
			counts[ps.Rating]++
		case register.Referred:
			referred++
		}
	}
	for l := range localities {
		p.Localities = append(p.Localities, l)
	}
	slices.Sort(p.Localities)
	for _, rt := range register.Ratings {
		p.Counts = append(p.Counts, countItem{Label: ratingName(rt), Class: "app-counts__item--" + string(rt), N: counts[rt], Href: "/?rag=" + string(rt)})
	}
	p.Counts = append(p.Counts, countItem{Label: "Waiting for a decision", Class: "app-counts__item--referred", N: referred, Href: "/?status=referred"})

	// The list shown is read with the store's filters, and audited: one
	// entry per person whose details the page shows.
	f := store.ListFilter{Rating: register.Rating(filter.Rating), Locality: filter.Locality, Now: now}
	var shown []store.PersonSummary
	switch filter.Status {
	case "":
		for _, st := range []register.Status{register.Active, register.Referred} {
			f.Status = st
			list, err := s.listAll(r.Context(), a, f, true)
			if err != nil {
				s.renderError(w, r, err)
				return
			}
			shown = append(shown, list...)
		}
	case statusAll:
		if shown, err = s.listAll(r.Context(), a, f, true); err != nil {
			s.renderError(w, r, err)
			return
		}
	default:
		f.Status = register.Status(filter.Status)
		if shown, err = s.listAll(r.Context(), a, f, true); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	p.Shown = len(shown)
	p.Groups = groupPeople(shown)
	s.render(w, r, http.StatusOK, "home", s.newView(r, "My register", "home", p))
}

// groupPeople groups people by rating, most urgent first, with those not
// yet rated (waiting for a decision, or closed before one) after; within a
// group overdue reviews and actions come first, then the next review due.
func groupPeople(list []store.PersonSummary) []group {
	byRating := map[register.Rating][]personRow{}
	for _, ps := range list {
		row := personRow{PersonSummary: ps, Overdue: ps.ReviewOverdue || ps.OverdueActions > 0}
		key := ps.Rating
		if ps.Status == register.Referred || !key.Valid() {
			key = ""
		}
		byRating[key] = append(byRating[key], row)
	}
	var out []group
	add := func(id, title string, rt register.Rating) {
		rows := byRating[rt]
		if len(rows) == 0 {
			return
		}
		slices.SortStableFunc(rows, comparePeople)
		out = append(out, group{ID: id, Title: title, Rating: rt, People: rows})
	}
	for _, rt := range register.Ratings {
		add("group-"+string(rt), ratingName(rt), rt)
	}
	add("group-unrated", "Not rated: referred, or closed before a decision", "")
	return out
}

func comparePeople(a, b personRow) int {
	if a.Overdue != b.Overdue {
		if a.Overdue {
			return -1
		}
		return 1
	}
	if c := compareDue(a.NextReviewDue, b.NextReviewDue); c != 0 {
		return c
	}
	if c := a.ReferredAt.Compare(b.ReferredAt); c != 0 {
		return c
	}
	return cmp.Compare(strings.ToLower(a.FamilyName+" "+a.GivenName), strings.ToLower(b.FamilyName+" "+b.GivenName))
}

// compareDue orders due times, soonest first, with none last.
func compareDue(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}
