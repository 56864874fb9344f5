package bench

import (
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(n ...int) Latencies {
		var l Latencies
		for _, v := range n {
			l = append(l, time.Duration(v)*time.Millisecond)
		}
		return l
	}
	hundred := Latencies{}
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		l    Latencies
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one", ms(7), 0.5, 7 * time.Millisecond},
		{"median of odd", ms(3, 1, 2), 0.5, 2 * time.Millisecond},
		{"p99 of 100 unsorted", hundred, 0.99, 99 * time.Millisecond},
		{"p50 of 100", hundred, 0.5, 50 * time.Millisecond},
		{"p100", hundred, 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestReportWritesEveryGoal(t *testing.T) {
	d := &DSRResult{BurstLag: Latencies{time.Second, 3 * time.Second}, UpdateRate: 50, PeakRSS: 512 << 20}
	r := Report{Options: Options{N: 10, Clients: 2, Lead: time.Minute}, DSR: d, Before: d,
		Bare: &BareResult{BurstLag: Latencies{2 * time.Second, 6 * time.Second}, UpdateRate: 100, PeakRSS: 1 << 30}}
	var b strings.Builder
	r.Write(&b)
	out := b.String()
	for _, g := range goals(10) {
		if !strings.Contains(out, g.name) {
			t.Errorf("no line for %q:\n%s", g.name, out)
		}
	}
	// 3 s against 6 s; 1/50 against 1/100; 512 MiB against 1 GiB.
	for _, want := range []string{"0.50", "2.00", "512 MiB", "1024 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestReportWarnsOfAVoidBurst(t *testing.T) {
	var b strings.Builder
	Report{Options: Options{N: 10}, DSR: &DSRResult{BurstVoid: true}, Bare: &BareResult{WakeAfterLastStart: time.Second}}.Write(&b)
	if !strings.Contains(b.String(), "measured nothing") {
		t.Errorf("no warning of a void burst:\n%s", b.String())
	}
}
