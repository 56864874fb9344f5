package workflows

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// A run of the current generation takes the newest path of every change
// id without asking workflow.GetVersion (each first ask writes a marker
// and a search-attribute upsert, a visibility write); a run of generation
// 0 (started before generations) still asks, so its history replays. Both
// behave the same where every version is the newest.
func TestGenerationSkipsGetVersion(t *testing.T) {
	ids := []struct {
		id  string
		max workflow.Version
	}{
		{versionChangeID, versionNoticeGuarantee}, {dedupChangeID, versionDedup}, {clocksChangeID, versionClocks},
		{clocksUpgradeChangeID, versionClocksUpgrade}, {consentFromChangeID, versionConsentFrom}, {meetingChangeID, versionMeetingAgenda},
	}
	var sent [2][]string
	for gen := range 2 {
		h := clockHarness(t, dob(1990, 5, 1))
		asked := map[string]int{}
		for _, c := range ids {
			h.env.OnGetVersion(c.id, workflow.DefaultVersion, c.max).Return(c.max).Run(func(mock.Arguments) { asked[c.id]++ })
		}
		h.update(0, UpdateTriage, accept(register.Red), "")
		h.update(2*day, UpdateMoveReview, MoveReviewRequest{Actor: admin, Due: t0.Add(20 * day), MeetingID: "m2"}, "")
		h.run(Input{PersonID: "p1", Generation: gen}, 30*day)
		n := 0
		for _, k := range asked {
			n += k
		}
		switch {
		case gen == 0 && (asked[versionChangeID] == 0 || asked[dedupChangeID] == 0 || asked[clocksChangeID] == 0 || asked[meetingChangeID] == 0):
			t.Errorf("generation 0 asked %v; want every change id it meets asked", asked)
		case gen == CurrentGeneration && n != 0:
			t.Errorf("generation %d asked GetVersion %d times (%v); want none", gen, n, asked)
		}
		sent[gen] = sorted(h.rec.sent)
	}
	if !slices.Equal(sent[0], sent[1]) || len(sent[0]) == 0 {
		t.Errorf("the generations behave differently:\n 0: %v\n 1: %v", sent[0], sent[1])
	}
}

// A start that carries the record's clock facts (an import, a referral)
// runs its first task with no LoadClocks activity, and its clocks run as
// if it had loaded them.
func TestClocksInTheInputNeedNoActivity(t *testing.T) {
	var sent [2][]string
	for i, carried := range []bool{false, true} {
		h := clockHarness(t, dob(2009, 3, 1))
		st := referred()
		in := Input{PersonID: "p1", State: &st, Generation: CurrentGeneration}
		if carried {
			f := h.rec.clocks
			in.Clocks = &f
			h.rec.clocks = register.ClockFacts{} // the activity would answer nothing
		}
		h.update(0, UpdateTriage, accept(register.Red), "")
		h.run(in, 30*day)
		if carried && h.rec.loadedClocks != 0 {
			t.Errorf("LoadClocks ran %d times with the clocks in the input", h.rec.loadedClocks)
		}
		if !carried && h.rec.loadedClocks != 1 {
			t.Errorf("LoadClocks ran %d times without the clocks in the input, want 1", h.rec.loadedClocks)
		}
		sent[i] = sorted(h.rec.sent)
	}
	if !slices.Equal(sent[0], sent[1]) || len(sent[0]) < 3 {
		t.Errorf("clocks carried and loaded differ:\n loaded  %v\n carried %v", sent[0], sent[1])
	}
}

// sorted is a sorted copy: notices due at the same moment are sent by
// activities running side by side, in either order.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
