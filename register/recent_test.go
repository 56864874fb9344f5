package register

import (
	"fmt"
	"testing"
)

func TestRecentUpdates(t *testing.T) {
	var s State
	if s.Applied("") || s.Applied("u-1") {
		t.Fatal("an empty state remembers an update")
	}
	for i := range MaxRecentUpdates + 10 {
		s.NoteUpdate(fmt.Sprintf("u-%d", i))
	}
	copyOf := s
	s.NoteUpdate("late")
	tests := []struct {
		id   string
		want bool
	}{
		{"u-0", false},  // fell off the end
		{"u-10", false}, // the last to go
		{"u-11", true},
		{fmt.Sprintf("u-%d", MaxRecentUpdates+9), true},
		{"late", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := s.Applied(tt.id); got != tt.want {
			t.Errorf("Applied(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
	if len(s.RecentUpdates) != MaxRecentUpdates {
		t.Errorf("%d remembered, want %d", len(s.RecentUpdates), MaxRecentUpdates)
	}
	if copyOf.Applied("late") {
		t.Error("a copy of the state taken before shares the later update")
	}
}
