package register

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// NHS number problems, worded for the person who typed the number.
var (
	ErrNHSLength      = errors.New("must be 10 digits")
	ErrNHSDigits      = errors.New("must contain only digits, spaces and dashes")
	ErrNHSCheckDigit  = errors.New("check digit does not match: the number has been mistyped")
	ErrNHSPlaceholder = errors.New("is a placeholder, not an NHS number")
)

// maxNHSInput bounds the work done on a pasted value; an NHS number typed
// with generous spacing is nowhere near this.
const maxNHSInput = 64

// NormaliseNHS returns s as ten digits, or an error saying what is wrong.
// Spaces and dashes (as people type and paste them: `943 476 5919`,
// `943-476-5919`) are removed; the Modulus 11 check of DOMAIN.md then applies:
// a computed check digit of 10 means no valid number has those first nine
// digits, and 11 stands for 0. Ten identical digits pass Modulus 11
// (0000000000, 1111111111) but are spreadsheet placeholders, never issued
// numbers, so they are refused too.
func NormaliseNHS(s string) (string, error) {
	if len(s) > maxNHSInput {
		return "", ErrNHSLength
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
			// Pd covers the en and em dashes word processors put in.
		default:
			return "", ErrNHSDigits
		}
	}
	d := b.String()
	if len(d) != 10 {
		return "", ErrNHSLength
	}
	check, ok := nhsCheckDigit(d[:9])
	if !ok || check != d[9]-'0' {
		return "", ErrNHSCheckDigit
	}
	if strings.Count(d, d[:1]) == 10 {
		return "", ErrNHSPlaceholder
	}
	return d, nil
}

// nhsCheckDigit computes the Modulus 11 check digit of nine ASCII digits;
// ok is false when the result is 10, which no valid number can have.
func nhsCheckDigit(nine string) (digit byte, ok bool) {
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(nine[i]-'0') * (10 - i)
	}
	c := 11 - sum%11
	switch c {
	case 11:
		return 0, true
	case 10:
		return 0, false
	}
	return byte(c), true
}

// FormatNHS displays an NHS number as 3-3-4 (`943 476 5919`). A value that
// is not a valid NHS number is returned unchanged, so nothing is hidden.
func FormatNHS(s string) string {
	d, err := NormaliseNHS(s)
	if err != nil {
		return s
	}
	return d[:3] + " " + d[3:6] + " " + d[6:]
}

// testNHSFirst is the first nine digits of the range NHS England reserves
// for testing (999 000 0000 to 999 999 9999): numbers never issued to a
// person, for demo data and tests.
const testNHSFirst = 999000000

// TestRangeNHS returns the i-th valid NHS number (from 0) of the range
// reserved for testing, check digit included; ok is false past its end.
// Nine-digit stems whose check digit would be 10 are skipped.
func TestRangeNHS(i int) (nhs string, ok bool) {
	l := TestRangeNHSList(i, 1)
	if len(l) == 0 {
		return "", false
	}
	return l[0], true
}

// TestRangeNHSList returns up to n numbers of the testing range, from the
// from-th (TestRangeNHS(from), TestRangeNHS(from+1), …) in one pass.
func TestRangeNHSList(from, n int) []string {
	out := make([]string, 0, n)
	for stem := testNHSFirst; stem <= 999999999 && len(out) < n; stem++ {
		nine := strconv.Itoa(stem)
		d, valid := nhsCheckDigit(nine)
		if !valid {
			continue
		}
		if from > 0 {
			from--
			continue
		}
		out = append(out, nine+string('0'+d))
	}
	return out
}
