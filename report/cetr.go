package report

import "strconv"

// CETRStandard is the national standard: 90% of admissions preceded by a
// community C(E)TR.
const CETRStandard = 90

// CETRRaw is what the database counts of C(E)TRs and keyworkers, before
// anything is hidden.
type CETRRaw struct {
	// Admissions in the period, and those with a community C(E)TR or LAEP
	// held in the look-back before them.
	Admissions, Preceded int
	// C(E)TRs due in the period, those of them not held by their due date,
	// and C(E)TRs held in the period.
	Due, Overdue, Held int
	// At the period's end: people eligible for a keyworker, and those of
	// them with one named or referred.
	Eligible, WithKeyworker int
}

// CETRSummary is the published C(E)TR and keyworker section.
type CETRSummary struct {
	// Admissions, split into those preceded by a community C(E)TR and
	// those without one, hidden as a breakdown of their total.
	Admissions Count `json:"admissions"`
	Preceded   Count `json:"preceded"`
	Without    Count `json:"without"`
	// PrecededPercent is shown only when both parts are: a share of a
	// total whose parts are hidden would give them away.
	PrecededPercent *int `json:"preceded_percent"`
	StandardPercent int  `json:"standard_percent"`
	// MeetsStandard is null when the share is hidden.
	MeetsStandard *bool `json:"meets_standard"`
	Due           Count `json:"due"`
	Overdue       Count `json:"overdue"`
	Held          Count `json:"held"`
	// Keyworker coverage of eligible people, likewise.
	Eligible          Count `json:"eligible"`
	WithKeyworker     Count `json:"with_keyworker"`
	WithoutKeyworker  Count `json:"without_keyworker"`
	KeyworkerCoverage *int  `json:"keyworker_coverage_percent"`
}

// buildCETR hides the small counts of the C(E)TR section.
func buildCETR(raw CETRRaw, threshold int) CETRSummary {
	s := CETRSummary{StandardPercent: CETRStandard}
	parts, total := Breakdown([]int{raw.Preceded, raw.Admissions - raw.Preceded}, threshold)
	s.Admissions, s.Preceded, s.Without = total, parts[0], parts[1]
	if s.Preceded != nil && s.Without != nil && raw.Admissions > 0 {
		p := percent(raw.Preceded, raw.Admissions)
		meets := p >= CETRStandard
		s.PrecededPercent, s.MeetsStandard = &p, &meets
	}
	s.Due, s.Overdue, s.Held = Primary(raw.Due, threshold), Primary(raw.Overdue, threshold), Primary(raw.Held, threshold)
	parts, total = Breakdown([]int{raw.WithKeyworker, raw.Eligible - raw.WithKeyworker}, threshold)
	s.Eligible, s.WithKeyworker, s.WithoutKeyworker = total, parts[0], parts[1]
	if s.WithKeyworker != nil && s.WithoutKeyworker != nil && raw.Eligible > 0 {
		p := percent(raw.WithKeyworker, raw.Eligible)
		s.KeyworkerCoverage = &p
	}
	return s
}

// percent rounds down, so a share just short of the standard never shows
// as meeting it.
func percent(n, of int) int { return n * 100 / of }

// cetrRows are the section's CSV rows: category and value ("" hidden).
func cetrRows(s CETRSummary) [][2]string {
	c := func(n Count) string {
		if n == nil {
			return ""
		}
		return strconv.Itoa(*n)
	}
	p := func(n *int) string {
		if n == nil {
			return ""
		}
		return strconv.Itoa(*n)
	}
	return [][2]string{
		{"admissions", c(s.Admissions)}, {"admissions_preceded", c(s.Preceded)}, {"admissions_without", c(s.Without)},
		{"preceded_percent", p(s.PrecededPercent)}, {"standard_percent", strconv.Itoa(s.StandardPercent)},
		{"cetrs_due", c(s.Due)}, {"cetrs_overdue", c(s.Overdue)}, {"cetrs_held", c(s.Held)},
		{"keyworker_eligible", c(s.Eligible)}, {"keyworker_with", c(s.WithKeyworker)}, {"keyworker_without", c(s.WithoutKeyworker)},
		{"keyworker_coverage_percent", p(s.KeyworkerCoverage)},
	}
}
