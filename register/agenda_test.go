package register

import (
	"slices"
	"testing"
	"time"
)

func london(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, London)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func ids(items []AgendaItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.PersonID)
	}
	return out
}

func carriedIDs(cs []Carry) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.PersonID)
	}
	return out
}

func TestPlanAgenda(t *testing.T) {
	meet := Meeting{ID: "s-1", SeriesID: "s", Start: london("2026-03-10 10:00"), Capacity: 3}
	next := Meeting{ID: "s-2", SeriesID: "s", Start: london("2026-03-24 10:00"), Capacity: 3}
	due := func(days int) time.Time { return meet.Start.AddDate(0, 0, -days) }
	cand := func(id string, r Rating, overdue int) Candidate {
		return Candidate{PersonID: id, Status: Active, Rating: r, Due: due(overdue)}
	}
	cases := []struct {
		name    string
		m       Meeting
		next    *Meeting
		cands   []Candidate
		ed      Edits
		want    []string
		carried []string
		tell    []string
	}{
		{
			name: "order: blue, red, days overdue, amber, green",
			m:    Meeting{ID: "s-1", Start: meet.Start, Capacity: 10},
			cands: []Candidate{
				cand("g0", Green, 0), cand("a0", Amber, 0), cand("g9", Green, 9),
				cand("r0", Red, 0), cand("b0", Blue, 0), cand("a3", Amber, 3), cand("r5", Red, 5),
			},
			want: []string{"b0", "r5", "r0", "g9", "a3", "a0", "g0"},
		},
		{
			name: "not yet due stays off; due later the same day comes on",
			m:    Meeting{ID: "s-1", Start: meet.Start, Capacity: 10},
			cands: []Candidate{
				{PersonID: "later", Status: Active, Rating: Red, Due: meet.Start.Add(24 * time.Hour)},
				{PersonID: "evening", Status: Active, Rating: Green, Due: london("2026-03-10 18:00")},
				{PersonID: "closed", Status: Discharged, Rating: Red, Due: due(3)},
				{PersonID: "noreview", Status: Active, Rating: Green},
			},
			want: []string{"evening"},
		},
		{
			name: "referrals awaiting triage and escalations come on whatever their date",
			m:    Meeting{ID: "s-1", Start: meet.Start, Capacity: 10},
			cands: []Candidate{
				{PersonID: "ref", Status: Referred, Due: meet.Start.Add(72 * time.Hour)},
				{PersonID: "esc", Status: Active, Rating: Green, Due: meet.Start.AddDate(0, 2, 0), Escalated: true},
				cand("a1", Amber, 1),
			},
			want: []string{"a1", "esc", "ref"}, // escalation brings on, the rule orders
		},
		{
			name:    "capacity overflow carried to the next meeting with its date",
			m:       meet,
			next:    &next,
			cands:   []Candidate{cand("g1", Green, 1), cand("r1", Red, 1), cand("a1", Amber, 1), cand("b1", Blue, 1), cand("g2", Green, 2)},
			want:    []string{"b1", "r1", "g2"},
			carried: []string{"a1", "g1"},
		},
		{
			name:  "ties broken by the earlier date, then id",
			m:     Meeting{ID: "s-1", Start: meet.Start, Capacity: 2},
			next:  &next,
			cands: []Candidate{cand("r-c", Red, 2), cand("r-b", Red, 2), {PersonID: "r-a", Status: Active, Rating: Red, Due: due(2).Add(time.Hour)}},
			// r-a is due an hour later on the same day: the same days
			// overdue, so the earlier time wins, then the id.
			want:    []string{"r-b", "r-c"},
			carried: []string{"r-a"},
		},
		{
			name: "carried before goes ahead of its class; carried again tells the coordinator",
			m:    Meeting{ID: "s-2", Start: meet.Start, Capacity: 1},
			next: &next,
			cands: []Candidate{
				cand("a9", Amber, 9),
				{PersonID: "g-carried", Status: Active, Rating: Green, Due: due(0), Carried: 1},
				{PersonID: "a-carried", Status: Active, Rating: Amber, Due: due(0), Carried: 1},
			},
			want:    []string{"a-carried"},
			carried: []string{"g-carried", "a9"},
			tell:    []string{"g-carried"},
		},
		{
			name:    "cancelled meeting carries everyone to the next",
			m:       Meeting{ID: "s-1", Start: meet.Start, Capacity: 3, Cancelled: true},
			next:    &next,
			cands:   []Candidate{cand("r1", Red, 1), cand("g1", Green, 1)},
			want:    nil,
			carried: []string{"r1", "g1"},
		},
		{
			name: "extra meeting takes the escalated and the added, carries nobody",
			m:    Meeting{ID: "x-1", Start: meet.Start, Capacity: 1, Extra: true},
			next: &next,
			cands: []Candidate{
				cand("r1", Red, 1),
				{PersonID: "esc1", Status: Active, Rating: Amber, Due: due(-30), Escalated: true},
				{PersonID: "esc2", Status: Active, Rating: Red, Due: due(-30), Escalated: true},
			},
			ed:   Edits{Add: []string{"r1"}},
			want: []string{"esc2"},
		},
		{
			name:  "coordinator's edits: order first, removals off, additions last",
			m:     Meeting{ID: "s-1", Start: meet.Start, Capacity: 3},
			next:  &next,
			cands: []Candidate{cand("r1", Red, 1), cand("a1", Amber, 1), cand("g1", Green, 1), cand("g2", Green, 0), {PersonID: "future", Status: Active, Rating: Green, Due: next.Start}},
			ed:    Edits{Order: []string{"g1"}, Remove: []string{"a1"}, Add: []string{"future", "unknown"}},
			want:  []string{"g1", "r1", "g2"},
			// the addition does not fit: it is carried like anyone else.
			carried: []string{"future"},
		},
		{
			name:    "no next meeting known: carried without a date",
			m:       Meeting{ID: "s-1", Start: meet.Start, Capacity: 0},
			cands:   []Candidate{cand("r1", Red, 1)},
			carried: []string{"r1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ag := PlanAgenda(tc.m, tc.next, tc.cands, tc.ed)
			if got := ids(ag.Items); !slices.Equal(got, tc.want) {
				t.Errorf("agenda = %v, want %v", got, tc.want)
			}
			if got := carriedIDs(ag.Carried); !slices.Equal(got, tc.carried) {
				t.Errorf("carried = %v, want %v", got, tc.carried)
			}
			var tell []string
			for _, c := range ag.Carried {
				if c.TellCoordinator {
					tell = append(tell, c.PersonID)
				}
				if tc.next != nil && (c.To != tc.next.ID || !c.Due.Equal(tc.next.Start)) {
					t.Errorf("%s carried to %q at %v, want %q at %v", c.PersonID, c.To, c.Due, tc.next.ID, tc.next.Start)
				}
				if tc.next == nil && (c.To != "" || !c.Due.IsZero()) {
					t.Errorf("%s carried to %q at %v with no next meeting", c.PersonID, c.To, c.Due)
				}
			}
			if !slices.Equal(tell, tc.tell) {
				t.Errorf("coordinator told of %v, want %v", tell, tc.tell)
			}
			if len(ag.Items) > max(0, tc.m.Capacity) {
				t.Errorf("agenda of %d over capacity %d", len(ag.Items), tc.m.Capacity)
			}
		})
	}
}

func TestPlanAgendaReasonsAndOverdue(t *testing.T) {
	m := Meeting{ID: "s-1", Start: london("2026-03-31 10:00"), Capacity: 5}
	ag := PlanAgenda(m, nil, []Candidate{
		// Due before the clocks went forward (29 March): calendar days count.
		{PersonID: "p", Status: Active, Rating: Amber, Due: london("2026-03-24 10:00")},
		{PersonID: "q", Status: Referred, Due: london("2026-03-30 23:30")},
	}, Edits{})
	want := []AgendaItem{
		{PersonID: "p", Reason: ReasonReviewDue, Rating: Amber, DaysOverdue: 7},
		{PersonID: "q", Reason: ReasonTriage, DaysOverdue: 1},
	}
	if !slices.Equal(ag.Items, want) {
		t.Errorf("items = %+v, want %+v", ag.Items, want)
	}
}

func TestOccurrences(t *testing.T) {
	s := Series{ID: "wilts", Name: "Wiltshire DSR", Schedule: "0 10 * * TUE", Capacity: 2}
	from, to := london("2026-03-17 00:00"), london("2026-04-08 00:00")
	cases := []struct {
		name    string
		changes []SlotChange
		extras  []Meeting
		want    []string // London starts
		flags   []string
	}{
		{
			name: "weekly at 10:00 London across the clocks going forward",
			want: []string{"2026-03-17 10:00", "2026-03-24 10:00", "2026-03-31 10:00", "2026-04-07 10:00"},
		},
		{
			name:    "a cancelled slot stays listed, marked",
			changes: []SlotChange{{Slot: london("2026-03-24 10:00"), Cancelled: true}},
			want:    []string{"2026-03-17 10:00", "2026-03-24 10:00", "2026-03-31 10:00", "2026-04-07 10:00"},
			flags:   []string{"", "cancelled", "", ""},
		},
		{
			name:    "a moved slot keeps its id",
			changes: []SlotChange{{Slot: london("2026-03-31 10:00"), Start: london("2026-04-01 14:00")}},
			want:    []string{"2026-03-17 10:00", "2026-03-24 10:00", "2026-04-01 14:00", "2026-04-07 10:00"},
		},
		{
			name:   "an extra meeting merged in order",
			extras: []Meeting{{ID: "wilts-x1", SeriesID: "wilts", Start: london("2026-03-26 16:00")}},
			want:   []string{"2026-03-17 10:00", "2026-03-24 10:00", "2026-03-26 16:00", "2026-03-31 10:00", "2026-04-07 10:00"},
			flags:  []string{"", "", "extra", "", ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := s.Occurrences(from, to, tc.changes, tc.extras)
			if err != nil {
				t.Fatal(err)
			}
			var got, flags []string
			for _, m := range ms {
				got = append(got, m.Start.In(London).Format("2006-01-02 15:04"))
				f := ""
				if m.Cancelled {
					f = "cancelled"
				}
				if m.Extra {
					f = "extra"
				}
				flags = append(flags, f)
				if m.Capacity != 2 || m.End.Sub(m.Start) != time.Hour {
					t.Errorf("%s: capacity %d length %v", m.ID, m.Capacity, m.End.Sub(m.Start))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("starts = %v, want %v", got, tc.want)
			}
			if tc.flags != nil && !slices.Equal(flags, tc.flags) {
				t.Errorf("flags = %v, want %v", flags, tc.flags)
			}
			for _, c := range tc.changes {
				if !c.Start.IsZero() && !slices.ContainsFunc(ms, func(m Meeting) bool {
					return m.ID == MeetingID("wilts", c.Slot) && m.Start.Equal(c.Start)
				}) {
					t.Errorf("moved slot lost its id")
				}
			}
		})
	}
	// In UTC the meeting moves an hour when the clocks change.
	ms, _ := s.Occurrences(from, to, nil, nil)
	if ms[1].Start.Hour() != 10 || ms[2].Start.Hour() != 9 {
		t.Errorf("UTC hours %d, %d; want 10 then 9", ms[1].Start.Hour(), ms[2].Start.Hour())
	}
}

func TestClocksChangingBetweenMeetings(t *testing.T) {
	// Fortnightly-ish: the overflow of 24 March (GMT) goes to 31 March
	// (BST), at 10:00 London, and counts overdue in calendar days.
	s := Series{ID: "s", Name: "x", Schedule: "0 10 * * TUE", Capacity: 1}
	ms, err := s.Occurrences(london("2026-03-24 00:00"), london("2026-04-01 00:00"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	next, ok := NextRegular(ms, ms[0])
	if !ok {
		t.Fatal("no next meeting")
	}
	ag := PlanAgenda(ms[0], &next, []Candidate{
		{PersonID: "a", Status: Active, Rating: Amber, Due: london("2026-03-24 10:00")},
		{PersonID: "b", Status: Active, Rating: Amber, Due: london("2026-03-24 10:00")},
	}, Edits{})
	if len(ag.Carried) != 1 || ag.Carried[0].Due.In(London).Format("2006-01-02 15:04") != "2026-03-31 10:00" {
		t.Fatalf("carried = %+v", ag.Carried)
	}
	// At the next meeting the carried person is 7 days overdue and goes first.
	c := ag.Carried[0]
	ag2 := PlanAgenda(next, nil, []Candidate{
		{PersonID: "new", Status: Active, Rating: Amber, Due: london("2026-03-17 10:00")},
		{PersonID: c.PersonID, Status: Active, Rating: Amber, Due: c.Due, Carried: c.Times},
	}, Edits{})
	if got := ids(ag2.Items); !slices.Equal(got, []string{c.PersonID}) {
		t.Errorf("next agenda = %v, want the carried person first", got)
	}
	if ag2.Carried[0].PersonID != "new" || ag2.Items[0].DaysOverdue != 0 {
		t.Errorf("next = %+v", ag2)
	}
	if d := DaysBetween(london("2026-03-28 12:00"), london("2026-03-29 12:00")); d != 1 {
		t.Errorf("DaysBetween across the change = %d", d)
	}
}

func TestNextRegular(t *testing.T) {
	ms := []Meeting{
		{ID: "a", Start: london("2026-01-06 10:00")},
		{ID: "x", Start: london("2026-01-08 10:00"), Extra: true},
		{ID: "b", Start: london("2026-01-13 10:00"), Cancelled: true},
		{ID: "c", Start: london("2026-01-20 10:00")},
	}
	if n, ok := NextRegular(ms, ms[0]); !ok || n.ID != "c" {
		t.Errorf("next of a = %v %v, want c (skipping the extra and the cancelled)", n.ID, ok)
	}
	if _, ok := NextRegular(ms, ms[3]); ok {
		t.Error("next of the last exists")
	}
}

func TestRecipientsAndProfessionalView(t *testing.T) {
	s := Series{Attendees: []string{"chair@nhs.net", "ICB@nhs.net"}}
	cands := []Candidate{
		{PersonID: "p1", Professionals: []string{"sw@council.gov.uk", "icb@nhs.net"}},
		{PersonID: "p2", Professionals: []string{"nurse@nhs.net"}},
		{PersonID: "p3"}, // on no professional's list
		{PersonID: "p4", Professionals: []string{"other@nhs.net"}},
	}
	ag := Agenda{Items: []AgendaItem{{PersonID: "p1"}, {PersonID: "p2"}, {PersonID: "p3"}}}
	got := Recipients(s, ag, cands)
	want := []string{"chair@nhs.net", "ICB@nhs.net", "nurse@nhs.net", "sw@council.gov.uk"}
	if !slices.Equal(got, want) {
		t.Errorf("recipients = %v, want %v", got, want)
	}
	if v := ids(ForProfessional(ag, "SW@council.gov.uk", cands)); !slices.Equal(v, []string{"p1"}) {
		t.Errorf("social worker sees %v", v)
	}
	if v := ForProfessional(ag, "other@nhs.net", cands); len(v) != 0 {
		t.Errorf("someone off the agenda sees %v", v)
	}
	// The person on no list is still on the agenda, seen by the standing
	// attendees (coordinators) only.
	if !slices.Contains(ids(ag.Items), "p3") {
		t.Error("p3 dropped")
	}
	for _, r := range got {
		if v := ForProfessional(ag, r, cands); slices.Contains(ids(v), "p3") {
			t.Errorf("%s sees p3", r)
		}
	}
}

func TestCheckSeries(t *testing.T) {
	ok := Series{Name: "Swindon DSR", Schedule: "0 10 * * 2", Capacity: 12, Attendees: []string{"a@nhs.net"}}
	cases := []struct {
		name   string
		mod    func(*Series)
		fields []string
	}{
		{"valid", func(*Series) {}, nil},
		{"length instead of capacity", func(s *Series) { s.Capacity, s.Length = 0, 90*time.Minute }, nil},
		{"no name", func(s *Series) { s.Name = " " }, []string{"name"}},
		{"bad cron", func(s *Series) { s.Schedule = "every tuesday" }, []string{"schedule"}},
		{"neither capacity nor length", func(s *Series) { s.Capacity = 0 }, []string{"capacity"}},
		{"too big", func(s *Series) { s.Capacity = 201 }, []string{"capacity"}},
		{"bad attendee", func(s *Series) { s.Attendees = []string{"a@nhs.net", "Bob <b@nhs.net>"} }, []string{"attendees[1]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.mod(&s)
			e := CheckSeries(s)
			var got []string
			if e != nil {
				for k := range e.Fields {
					got = append(got, k)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.fields) {
				t.Errorf("fields = %v (%v), want %v", got, e, tc.fields)
			}
		})
	}
	if c := (Series{Length: 90 * time.Minute}).EffectiveCapacity(); c != 6 {
		t.Errorf("90 minutes = %d people", c)
	}
	if c := (Series{}).EffectiveCapacity(); c != DefaultPanelCapacity {
		t.Errorf("default = %d", c)
	}
}

func TestOccurrencesBounded(t *testing.T) {
	s := Series{ID: "x", Schedule: "* * * * *", Capacity: 1}
	from := london("2026-01-01 00:00")
	ms, err := s.Occurrences(from, from.AddDate(0, 3, 0), nil, []Meeting{{ID: "late", Start: from.AddDate(0, 2, 0)}})
	if err != nil || len(ms) != MaxOccurrences || ms[len(ms)-1].Extra {
		t.Errorf("%d meetings, %v", len(ms), err)
	}
}
