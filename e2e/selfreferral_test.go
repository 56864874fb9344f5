package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/api"
)

// TestSelfReferral: the public endpoint takes a referral without a token
// and lands it flagged for triage; it refuses bad input by field; a filled
// honeypot and a person already on the register get the same answer as an
// accepted referral, and nothing is stored; it answers 429 past the limit.
func TestSelfReferral(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	ctx := context.Background()
	sent := 0
	post := func(body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		if raw, ok := body.(string); ok {
			b = []byte(raw)
		}
		sent++
		st, _, raw, err := s.raw("", "POST", api.SelfReferralPath, b)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.Unmarshal(raw, &out)
		return st, out
	}
	self := func(nhs string) map[string]any {
		m := referral(nhs, "Fay")
		m["referrer"] = map[string]any{"name": "Gil Parent", "email": "gil@example.net", "relationship": "father"}
		return m
	}

	// Accepted without a token, flagged for triage.
	nhs := nhsNumber(3001)
	st, out := post(self(nhs))
	if st != http.StatusAccepted || out["status"] != "received" || out["id"] != nil {
		t.Fatalf("self-referral: %d %v", st, out)
	}
	var id, relationship, role, addr string
	var selfReferral bool
	var referredBy *string
	err := s.store.Pool.QueryRow(ctx, `SELECT p.id::text, p.self_referral, p.referrer_relationship, p.referred_by::text, a.role, a.client_addr
		FROM people p JOIN audit_log a ON a.person_id = p.id AND a.action = 'create' WHERE p.nhs_number = $1`, nhs).
		Scan(&id, &selfReferral, &relationship, &referredBy, &role, &addr)
	if err != nil || !selfReferral || relationship != "father" || referredBy != nil || role != "anonymous" || addr != "127.0.0.1" {
		t.Fatalf("stored self-referral: %v %v %q %v %q %q", err, selfReferral, relationship, referredBy, role, addr)
	}
	s.waitMail("referral-received", id, 20*time.Second)

	// Refused by field, nothing written.
	before := s.rowCounts()
	bad := self(nhsNumber(3002))
	bad["referrer"] = map[string]any{"name": "Gil Parent"}
	st, out = post(bad)
	fields, _ := out["fields"].(map[string]any)
	if st != http.StatusUnprocessableEntity || fields["referrer.relationship"] == nil || fields["referrer.email"] == nil {
		t.Errorf("no relationship nor contact: %d %v", st, out)
	}
	unknown := self(nhsNumber(3002))
	unknown["captcha"] = "x"
	if st, out = post(unknown); st != http.StatusUnprocessableEntity {
		t.Errorf("unknown field: %d %v", st, out)
	}
	if st, _ = post(`{"person":`); st != http.StatusBadRequest {
		t.Errorf("malformed: %d", st)
	}
	huge := self(nhsNumber(3002))
	huge["current_issues"] = strings.Repeat("x", 1<<20)
	if st, _ = post(huge); st != http.StatusRequestEntityTooLarge {
		t.Errorf("over 1 MiB: %d", st)
	}

	// The honeypot: answered as accepted, nothing stored, valid or not.
	trapped := self(nhsNumber(3003))
	trapped["website"] = "http://cheap-pills.example"
	if st, out = post(trapped); st != http.StatusAccepted || out["status"] != "received" {
		t.Errorf("honeypot: %d %v", st, out)
	}
	if st, _ = post(map[string]any{"website": "x", "person": 1}); st != http.StatusAccepted {
		t.Errorf("honeypot with a bad body: %d", st)
	}

	// Already on the register: the same answer, nothing stored, the attempt
	// audited against the record.
	if st, out = post(self(nhs)); st != http.StatusAccepted || out["id"] != nil {
		t.Errorf("duplicate: %d %v", st, out)
	}
	if after := s.rowCounts(); after.people != before.people || after.professionals != before.professionals || after.audit != before.audit+1 {
		t.Errorf("rows %+v → %+v: want only one audit entry", before, after)
	}
	var refused int
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'refused' AND person_id = $1`, id).Scan(&refused)
	if refused != 1 {
		t.Errorf("duplicate self-referral audited %d times", refused)
	}

	// An empty honeypot is a person: stored.
	kept := self(nhsNumber(3004))
	kept["website"] = ""
	if st, _ = post(kept); st != http.StatusAccepted || s.rowCounts().people != before.people+1 {
		t.Errorf("empty honeypot: %d, people %d", st, s.rowCounts().people)
	}

	// Only this route is public.
	if st, _, _, _ := s.raw("", "GET", "/api/v1/people", nil); st != http.StatusUnauthorized {
		t.Errorf("people without a token: %d", st)
	}
	if st, _, _, _ := s.raw("", "POST", "/api/v1/referrals", []byte(`{}`)); st != http.StatusUnauthorized {
		t.Errorf("referrals without a token: %d", st)
	}

	// The limit counts every request from the address.
	for st != http.StatusTooManyRequests && sent <= api.SelfReferralLimit+2 {
		st, out = post(trapped)
	}
	if st != http.StatusTooManyRequests || sent < api.SelfReferralLimit+1 || sent > api.SelfReferralLimit+2 {
		t.Fatalf("429 after %d requests (status %d), want after %d", sent, st, api.SelfReferralLimit)
	}
	if out["error"] == nil {
		t.Errorf("429 body %v", out)
	}
	if s.rowCounts().people != before.people+1 {
		t.Errorf("trapped requests stored people")
	}
}
