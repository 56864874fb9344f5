package register

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormaliseNHS(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"9434765919", "9434765919", nil},
		{"9434765870", "9434765870", nil}, // remainder 0: check digit 11 means 0
		{"943 476 5919", "9434765919", nil},
		{"943-476-5919", "9434765919", nil},
		{" 943 476 5919 ", "9434765919", nil},
		{"943\u00a0476\u00a05919", "9434765919", nil}, // non-breaking spaces from a document
		{"943–476–5919", "9434765919", nil},           // en dashes from a word processor
		{"4000000020", "4000000020", nil},             // 400000002: check digit 0
		{"9434765918", "", ErrNHSCheckDigit},
		{"9434765910", "", ErrNHSCheckDigit},
		{"9434765871", "", ErrNHSCheckDigit},
		{"4010232170", "", ErrNHSCheckDigit}, // 401023217: remainder 1 gives check digit 10
		{"4010232171", "", ErrNHSCheckDigit},
		{"4000000080", "", ErrNHSCheckDigit}, // 400000008: check digit 10
		{"4000000089", "", ErrNHSCheckDigit},
		{"0000000000", "", ErrNHSPlaceholder}, // passes Modulus 11
		{"1111111111", "", ErrNHSPlaceholder}, // passes Modulus 11
		{"943476591", "", ErrNHSLength},
		{"94347659190", "", ErrNHSLength},
		{"", "", ErrNHSLength},
		{"   ", "", ErrNHSLength},
		{"943476591X", "", ErrNHSDigits},
		{"NHS9434765919", "", ErrNHSDigits},
		{"943.476.5919", "", ErrNHSDigits},
		{"943476591９", "", ErrNHSDigits},  // full-width nine
		{"٩٤٣٤٧٦٥٩١٩", "", ErrNHSDigits},  // Arabic-Indic digits
		{"+9434765919", "", ErrNHSDigits}, // not a phone number
		{strings.Repeat(" ", 100) + "9434765919", "", ErrNHSLength},
	}
	for _, tc := range tests {
		got, err := NormaliseNHS(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("NormaliseNHS(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatNHS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"9434765919", "943 476 5919"},
		{"943-476-5919", "943 476 5919"},
		{" 9434765870", "943 476 5870"},
		{"9434765918", "9434765918"}, // invalid: shown as given
		{"abc", "abc"},
	}
	for _, tc := range tests {
		if got := FormatNHS(tc.in); got != tc.want {
			t.Errorf("FormatNHS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// modulus11 is an independent statement of DOMAIN.md's rule, for the fuzz
// test to check NormaliseNHS against.
func modulus11(d string) bool {
	sum := 0
	for i, w := range []int{10, 9, 8, 7, 6, 5, 4, 3, 2} {
		sum += int(d[i]-'0') * w
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(d[9]-'0')
}

func FuzzNormaliseNHS(f *testing.F) {
	for _, s := range []string{"9434765919", "943 476 5919", "943-476-5870", "4010232170", "", "x", "0000000000", "٩"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormaliseNHS(s)
		if err != nil {
			if got != "" {
				t.Fatalf("NormaliseNHS(%q) returned %q with error %v", s, got, err)
			}
			return
		}
		if len(got) != 10 || !utf8.ValidString(got) {
			t.Fatalf("NormaliseNHS(%q) = %q: not 10 digits", s, got)
		}
		for _, c := range []byte(got) {
			if c < '0' || c > '9' {
				t.Fatalf("NormaliseNHS(%q) = %q: not digits", s, got)
			}
		}
		if !modulus11(got) {
			t.Fatalf("NormaliseNHS(%q) = %q fails Modulus 11", s, got)
		}
		// Normalising is idempotent, and the display form reads back the same.
		if again, err := NormaliseNHS(FormatNHS(got)); err != nil || again != got {
			t.Fatalf("NormaliseNHS(FormatNHS(%q)) = %q, %v", got, again, err)
		}
	})
}

func TestTestRangeNHS(t *testing.T) {
	seen := map[string]bool{}
	for i := range 200 {
		n, ok := TestRangeNHS(i)
		if !ok {
			t.Fatalf("%d: none", i)
		}
		if !strings.HasPrefix(n, "999") || len(n) != 10 {
			t.Errorf("%d: %s is outside 999 000 0000 – 999 999 9999", i, n)
		}
		if d, err := NormaliseNHS(n); err != nil || d != n {
			t.Errorf("%d: %s is not a valid NHS number: %v", i, n, err)
		}
		if seen[n] {
			t.Errorf("%d: %s twice", i, n)
		}
		seen[n] = true
	}
	if n, _ := TestRangeNHS(0); n != "9990000018" {
		t.Errorf("the first is %s, want 9990000018", n)
	}
}

func TestTestRangeNHSList(t *testing.T) {
	l := TestRangeNHSList(3, 500)
	if len(l) != 500 {
		t.Fatalf("%d numbers, want 500", len(l))
	}
	seen := map[string]bool{}
	for k, n := range l {
		if one, _ := TestRangeNHS(3 + k); one != n {
			t.Fatalf("list[%d] = %s, TestRangeNHS(%d) = %s", k, n, 3+k, one)
		}
		if d, err := NormaliseNHS(n); err != nil || d[:3] != "999" || seen[n] {
			t.Fatalf("%s: %v (or repeated, or not 999)", n, err)
		}
		seen[n] = true
	}
}
