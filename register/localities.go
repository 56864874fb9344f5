package register

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Localities is the area's list of localities (DSR_LOCALITIES): the only
// values a referral's person.locality may take, and the only rows the
// anonymised reports show besides "Other" and "not recorded". Free text
// typed into a locality (an address, a name) would otherwise reach
// commissioners as a report row.
type Localities []string

// DefaultLocalities is the list when DSR_LOCALITIES is not set.
var DefaultLocalities = Localities{"Bath and North East Somerset", "Swindon", "Wiltshire"}

// LocalitySeparator separates the names in DSR_LOCALITIES. Not a comma:
// an area's name may hold one ("Brighton, Hove").
const LocalitySeparator = ";"

// OtherLocality is the report row of people whose recorded locality is not
// on the list (recorded before the list was kept, or since removed from it).
const OtherLocality = "Other"

// ParseLocalities reads DSR_LOCALITIES: names separated by ";", each
// trimmed; empty names are ignored. An empty spec is the default list.
// Names must be unique (case ignored), one line, and at most MaxShortLen
// characters.
func ParseLocalities(spec string) (Localities, error) {
	if strings.TrimSpace(spec) == "" {
		return append(Localities(nil), DefaultLocalities...), nil
	}
	var out Localities
	seen := map[string]bool{}
	for _, name := range strings.Split(spec, LocalitySeparator) {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		switch {
		case utf8.RuneCountInString(name) > MaxShortLen:
			return nil, fmt.Errorf("a locality may be at most %d characters", MaxShortLen)
		case strings.IndexFunc(name, unicode.IsControl) >= 0:
			return nil, errors.New("a locality must be one line, without control characters")
		case strings.EqualFold(name, OtherLocality):
			return nil, fmt.Errorf("%q is what reports call a locality not on the list; it cannot be on the list", OtherLocality)
		case seen[strings.ToLower(name)]:
			return nil, fmt.Errorf("%q is listed twice", name)
		}
		seen[strings.ToLower(name)] = true
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, errors.New("names no locality (separate names with ;)")
	}
	return out, nil
}

// OrDefault is l, or DefaultLocalities when l is empty (a Config not built
// by config.Load, a test).
func (l Localities) OrDefault() Localities {
	if len(l) == 0 {
		return DefaultLocalities
	}
	return l
}

// Canonical returns the list's spelling of s (matched trimmed, case
// ignored) and true, or s and false when s names no locality on the list.
// An empty s ("not recorded") is returned as "" and true.
func (l Localities) Canonical(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", true
	}
	for _, name := range l.OrDefault() {
		if strings.EqualFold(name, t) {
			return name, true
		}
	}
	return s, false
}

// ReportKey is the report row a recorded locality is counted in: its
// name on the list, "" for none recorded, OtherLocality for anything else.
func (l Localities) ReportKey(s string) string {
	name, ok := l.Canonical(s)
	if !ok {
		return OtherLocality
	}
	return name
}

// problem is the message for a locality not on the list.
func (l Localities) problem() string {
	return "must be one of the area's localities: " + strings.Join(l.OrDefault(), "; ") + " (or left empty)"
}
