package bench

import (
	"fmt"

	"github.com/bsw-dsr/dsr/register"
)

// TestNHSNumbers returns n valid NHS numbers from the range NHS England
// reserves for testing (999 000 0000 to 999 999 9999), starting at the
// from'th such number, so that two calls with disjoint ranges never share
// a number.
func TestNHSNumbers(from, n int) []string {
	out := make([]string, 0, n)
	skipped := 0
	for i := 0; len(out) < n && i < 1_000_000; i++ {
		nhs, ok := testNHS(i)
		if !ok {
			continue
		}
		if skipped < from {
			skipped++
			continue
		}
		out = append(out, nhs)
	}
	return out
}

func testNHS(i int) (string, bool) {
	for check := 0; check <= 9; check++ {
		s := fmt.Sprintf("999%06d%d", i, check)
		if d, err := register.NormaliseNHS(s); err == nil {
			return d, true
		}
	}
	return "", false
}
