package register

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaultRiskToolSuggests(t *testing.T) {
	all := []string{"mental_health", "behaviour", "environment", "crisis"}
	cases := []struct {
		yes  []string
		want Rating
	}{
		{all, Red},
		{all[:3], ""},
		{nil, ""},
		{[]string{"crisis", "environment", "behaviour", "mental_health"}, Red},
	}
	for _, tc := range cases {
		if got := DefaultRiskTool.Suggest(tc.yes); got != tc.want {
			t.Errorf("Suggest(%v) = %q, want %q", tc.yes, got, tc.want)
		}
	}
	if err := DefaultRiskTool.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRiskTool(t *testing.T) {
	twelve := `{"id": "wiltshire-12", "version": 3,
	  "questions": [` + func() string {
		var qs []string
		for i := range 12 {
			qs = append(qs, `{"id": "q`+string(rune('a'+i))+`", "text": "Question"}`)
		}
		return strings.Join(qs, ",")
	}() + `],
	  "rules": [{"rating": "red", "all_of": ["qa", "qb", "qc", "qd"]}, {"rating": "amber", "at_least": 3}, {"rating": "green", "at_least": 1}]}`
	tool, err := LoadRiskTool(strings.NewReader(twelve))
	if err != nil {
		t.Fatal(err)
	}
	for yes, want := range map[string]Rating{"qa,qb,qc,qd": Red, "qa,qb,qc": Amber, "qe,qf,qg,qh": Amber, "qk": Green, "": ""} {
		var ys []string
		if yes != "" {
			ys = strings.Split(yes, ",")
		}
		if got := tool.Suggest(ys); got != want {
			t.Errorf("%s: %q, want %q", yes, got, want)
		}
	}
	for name, bad := range map[string]string{
		"unknown field":    `{"id": "x", "version": 1, "questions": [{"id": "a", "text": "A"}], "rules": [], "colour": 1}`,
		"no version":       `{"id": "x", "questions": [{"id": "a", "text": "A"}]}`,
		"duplicate id":     `{"id": "x", "version": 1, "questions": [{"id": "a", "text": "A"}, {"id": "a", "text": "B"}]}`,
		"bad rating":       `{"id": "x", "version": 1, "questions": [{"id": "a", "text": "A"}], "rules": [{"rating": "purple", "at_least": 1}]}`,
		"unknown question": `{"id": "x", "version": 1, "questions": [{"id": "a", "text": "A"}], "rules": [{"rating": "red", "all_of": ["b"]}]}`,
		"always holds":     `{"id": "x", "version": 1, "questions": [{"id": "a", "text": "A"}], "rules": [{"rating": "red"}]}`,
	} {
		if _, err := LoadRiskTool(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestCheckRisk(t *testing.T) {
	tool := DefaultRiskTool
	all := []string{"mental_health", "behaviour", "environment", "crisis"}
	cases := []struct {
		name   string
		a      RiskAnswers
		chosen Rating
		fields []string
	}{
		{"agrees", tool.Answer(all, ""), Red, nil},
		{"differs with a reason", tool.Answer(all, "crisis resolved this week"), Amber, nil},
		{"differs without a reason", tool.Answer(all, ""), Amber, []string{"risk.reason"}},
		{"no suggestion: any rating", tool.Answer(all[:2], ""), Green, nil},
		{"unknown question", tool.Answer([]string{"weather"}, ""), Green, []string{"risk.yes[0]"}},
		{"forged suggestion", RiskAnswers{Tool: tool.ID, Version: 1, Yes: all[:1], Suggested: Red}, Red, []string{"risk.suggested"}},
		{"old version", RiskAnswers{Tool: tool.ID, Version: 0}, Red, []string{"risk.tool"}},
	}
	for _, tc := range cases {
		f := map[string]string{}
		tool.CheckRisk(f, tc.a, tc.chosen)
		var got []string
		for k := range f {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.fields) {
			t.Errorf("%s: fields %v, want %v", tc.name, f, tc.fields)
		}
	}
}
