package register

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// RiskTool is an area's risk tool: a versioned list of yes/no questions
// and the rules that turn the answers into a suggested rating. It is
// configuration (DSR_RISK_TOOL names a JSON file; see the README), so an
// area can load its 12- or 19-item tool.
type RiskTool struct {
	ID        string         `json:"id"`
	Version   int            `json:"version"`
	Questions []RiskQuestion `json:"questions"`
	// Rules are tried in order; the first that holds gives the suggested
	// rating. None holding suggests nothing.
	Rules []RiskRule `json:"rules"`
}

// RiskQuestion is one question of the tool.
type RiskQuestion struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// RiskRule suggests Rating when every question in AllOf is answered yes
// and at least AtLeast questions in all are.
type RiskRule struct {
	Rating  Rating   `json:"rating"`
	AllOf   []string `json:"all_of,omitempty"`
	AtLeast int      `json:"at_least,omitempty"`
}

// DefaultRiskTool is the four key questions of DOMAIN.md: all four yes
// suggests red.
var DefaultRiskTool = RiskTool{
	ID: "key-questions", Version: 1,
	Questions: []RiskQuestion{
		{ID: "mental_health", Text: "Unstable or untreated mental health condition"},
		{ID: "behaviour", Text: "Significant behavioural challenges"},
		{ID: "environment", Text: "Unstable environment or changing staff teams"},
		{ID: "crisis", Text: "Crisis presentation at A&E in the last month"},
	},
	Rules: []RiskRule{{Rating: Red, AllOf: []string{"mental_health", "behaviour", "environment", "crisis"}}},
}

// LoadRiskTool reads and checks a tool file.
func LoadRiskTool(r io.Reader) (RiskTool, error) {
	var t RiskTool
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("risk tool: %w", err)
	}
	return t, t.Check()
}

// Check reports the first thing wrong with the tool.
func (t RiskTool) Check() error {
	if strings.TrimSpace(t.ID) == "" || t.Version < 1 {
		return fmt.Errorf("risk tool: needs an id and a version of 1 or more")
	}
	if len(t.Questions) == 0 || len(t.Questions) > 100 {
		return fmt.Errorf("risk tool %s: needs 1 to 100 questions", t.ID)
	}
	ids := map[string]bool{}
	for i, q := range t.Questions {
		if q.ID == "" || strings.TrimSpace(q.Text) == "" || ids[q.ID] {
			return fmt.Errorf("risk tool %s: question %d needs a unique id and a text", t.ID, i+1)
		}
		ids[q.ID] = true
	}
	for i, r := range t.Rules {
		if !r.Rating.Valid() {
			return fmt.Errorf("risk tool %s: rule %d: rating %q is not red, amber, green or blue", t.ID, i+1, r.Rating)
		}
		if len(r.AllOf) == 0 && r.AtLeast < 1 {
			return fmt.Errorf("risk tool %s: rule %d holds always: give all_of or at_least", t.ID, i+1)
		}
		if r.AtLeast > len(t.Questions) {
			return fmt.Errorf("risk tool %s: rule %d: at_least %d is more than the questions", t.ID, i+1, r.AtLeast)
		}
		for _, q := range r.AllOf {
			if !ids[q] {
				return fmt.Errorf("risk tool %s: rule %d names no question %q", t.ID, i+1, q)
			}
		}
	}
	return nil
}

// Suggest is the rating the answers suggest ("" when no rule holds).
// Unanswered questions count as no.
func (t RiskTool) Suggest(yes []string) Rating {
	for _, r := range t.Rules {
		all := true
		for _, q := range r.AllOf {
			if !slices.Contains(yes, q) {
				all = false
			}
		}
		if all && len(yes) >= r.AtLeast {
			return r.Rating
		}
	}
	return ""
}

// RiskAnswers is what a review records of the tool: which version, the
// questions answered yes, the suggestion, and why the rating chosen
// differs from it.
type RiskAnswers struct {
	Tool      string   `json:"tool"`
	Version   int      `json:"version"`
	Yes       []string `json:"yes"`
	Suggested Rating   `json:"suggested,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// Answer records answers against the tool: the suggestion is the tool's,
// never the caller's.
func (t RiskTool) Answer(yes []string, reason string) RiskAnswers {
	return RiskAnswers{Tool: t.ID, Version: t.Version, Yes: yes, Suggested: t.Suggest(yes), Reason: reason}
}

// CheckRisk records in fields what is wrong with a review's risk answers
// for the chosen rating: unknown questions, and a rating that differs from
// the suggestion without a reason.
func (t RiskTool) CheckRisk(fields map[string]string, a RiskAnswers, chosen Rating) {
	if a.Tool != t.ID || a.Version != t.Version {
		fields["risk.tool"] = fmt.Sprintf("answers are for %s version %d; the tool is %s version %d", a.Tool, a.Version, t.ID, t.Version)
		return
	}
	for i, q := range a.Yes {
		if !slices.ContainsFunc(t.Questions, func(x RiskQuestion) bool { return x.ID == q }) {
			fields[fmt.Sprintf("risk.yes[%d]", i)] = "is not a question of the tool"
		}
	}
	if a.Suggested != t.Suggest(a.Yes) {
		fields["risk.suggested"] = "is not what the tool suggests"
	}
	CheckText(fields, "risk.reason", a.Reason, 2000, a.Suggested != "" && chosen != a.Suggested)
}
