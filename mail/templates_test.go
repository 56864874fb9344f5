package mail

import (
	"bytes"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

const base = "https://dsr.example.nhs.uk"

// A made-up person's identifiers: none may ever appear in a notice. (A
// single word such as a first name alone cannot be told from an opaque id,
// so it is not here; see the control at the end of the test.)
var sentinels = []string{
	"Zebedee Quixote-Smith", "943 476 5919", "9434765919", "943-476-5919",
	"1999-02-03", "03/02/1999", "12 Acacia Avenue", "SN1 2AB",
}

func validData(kind string) NoticeData {
	if kind == "digest" {
		return NoticeData{Link: RegisterLink(base), Digest: DigestCounts{1, 2, 3, 4, 5, 6}}
	}
	if kind == "monthly-return" {
		return NoticeData{Link: base + "/reports/returns/2026-11", Month: "2026-11"}
	}
	if slices.Contains(meetingKinds, kind) {
		return NoticeData{MeetingID: "default-20261208T100000Z", Link: MeetingLink(base, "default-20261208T100000Z"),
			DueAt: time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC), Count: 2,
			Links: []string{PersonLink(base, "01J9ZP7K3M"), PersonLink(base, "01J9ZP7K3N")}}
	}
	return NoticeData{
		PersonID: "01J9ZP7K3M", Link: PersonLink(base, "01J9ZP7K3M"),
		DueAt: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC), Level: 2, MaxLevel: 3,
		FromRating: "amber", ToRating: "red",
		FailedKind: "review-due", Refused: []string{"sw@example.invalid"},
		CETRKind: "post-admission", Child: true,
	}
}

func TestCETRAndReturnNotices(t *testing.T) {
	d := validData("cetr-overdue")
	subject, _, _, err := Render("cetr-overdue", d)
	if err != nil || subject != "DSR: post-admission CETR overdue" {
		t.Errorf("child post-admission: %q %v", subject, err)
	}
	d.CETRKind, d.Child = "community", false
	if subject, _, _, _ = Render("cetr-due", d); subject != "DSR: community CTR due" {
		t.Errorf("adult community: %q", subject)
	}
	d.CETRKind = "Jane Smith"
	if _, _, _, err := Render("cetr-due", d); err == nil {
		t.Error("free text as a C(E)TR kind rendered")
	}
	r := validData("monthly-return")
	for _, bad := range []NoticeData{{Link: r.Link, Month: "November"}, {Link: r.Link, Month: "2026-11", PersonID: "01J9ZP7K3M"}} {
		if _, _, _, err := Render("monthly-return", bad); err == nil {
			t.Errorf("rendered %+v", bad)
		}
	}
	_, text, _, err := Render("monthly-return", r)
	if err != nil || !strings.Contains(text, "2026-11") || strings.ContainsAny(strings.ReplaceAll(strings.ReplaceAll(text, "2026-11", ""), "90%", ""), "0123456789") {
		t.Errorf("monthly return carries no counts: %v\n%s", err, text)
	}
}

func TestDeliveryFailedNamesTheAddressOnly(t *testing.T) {
	d := validData("delivery-failed")
	d.Refused = []string{"sw@example.invalid", "nurse@example.invalid"}
	_, text, htmlOut, err := Render("delivery-failed", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"review-due", "sw@example.invalid", "nurse@example.invalid", "these addresses"} {
		if !strings.Contains(text, want) || !strings.Contains(htmlOut, want) {
			t.Errorf("delivery-failed does not say %q:\n%s", want, text)
		}
	}
	for name, bad := range map[string]NoticeData{
		"free text as an address": {FailedKind: "review-due", Refused: []string{"Jane Smith, 1 High St"}},
		"a display name":          {FailedKind: "review-due", Refused: []string{"Jane Smith <j@example.org>"}},
		"no address":              {FailedKind: "review-due"},
		"an unknown kind":         {FailedKind: "whatever", Refused: []string{"a@example.org"}},
		"itself":                  {FailedKind: "delivery-failed", Refused: []string{"a@example.org"}},
	} {
		d := validData("delivery-failed")
		d.FailedKind, d.Refused = bad.FailedKind, bad.Refused
		if _, _, _, err := Render("delivery-failed", d); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestMeetingNoticesCarryLinksOnly(t *testing.T) {
	for name, mutate := range map[string]func(*NoticeData){
		"a person id":            func(d *NoticeData) { d.PersonID = "01J9ZP7K3M" },
		"another page":           func(d *NoticeData) { d.Link = PersonLink(base, "01J9ZP7K3M") },
		"no time":                func(d *NoticeData) { d.DueAt = time.Time{} },
		"a link with a query":    func(d *NoticeData) { d.Links[0] += "?name=Jane" },
		"free text as a link":    func(d *NoticeData) { d.Links[1] = "Jane Smith's care plan" },
		"fewer links than count": func(d *NoticeData) { d.Count = 3 },
	} {
		d := validData("meeting-actions")
		mutate(&d)
		if _, _, _, err := Render("meeting-actions", d); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
	_, text, _, err := Render("meeting-actions", validData("meeting-actions"))
	if err != nil || !strings.Contains(text, PersonLink(base, "01J9ZP7K3N")) || !strings.Contains(text, "2 new actions") {
		t.Errorf("meeting-actions: %v\n%s", err, text)
	}
}

func TestEveryKindRenders(t *testing.T) {
	// Every notice kind the domain defines has a template.
	for _, k := range []register.NoticeKind{
		register.ReferralReceived, register.TriageOverdue, register.ReferralDeclined,
		register.ReviewDue, register.ReviewOverdue, register.ReviewEscalated,
		register.ActionDue, register.ActionOverdue, register.ActionEscalated,
		register.RatingChanged, register.DeliveryFailed, register.Digest,
	} {
		if _, ok := textTemplates[string(k)]; !ok {
			t.Errorf("no template for %s", k)
		}
	}
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			d := validData(kind)
			subject, text, htmlOut, err := Render(kind, d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(subject, "DSR") || strings.ContainsAny(subject, "\r\n") || len(subject) > 78 {
				t.Errorf("subject %q", subject)
			}
			if !strings.Contains(text, d.Link+"\n") {
				t.Errorf("text has no link %s:\n%s", d.Link, text)
			}
			if !strings.Contains(htmlOut, `href="`+d.Link+`"`) {
				t.Errorf("html has no link:\n%s", htmlOut)
			}
			if !strings.Contains(htmlOut, "<title>"+html.EscapeString(subject)+"</title>") {
				t.Errorf("html title is not the subject")
			}
			if strings.Contains(text, "<no value>") || strings.Contains(htmlOut, "<no value>") || strings.Contains(text, "{{") {
				t.Error("a template field is missing")
			}
			if strings.Contains(text, "\n\n\n") {
				t.Error("text has runs of blank lines")
			}
			if kind != "digest" && kind != "monthly-return" && !slices.Contains(meetingKinds, kind) && !strings.Contains(text, "Record reference: "+d.PersonID) {
				t.Error("text has no record reference")
			}
		})
	}
}

func TestRenderDetails(t *testing.T) {
	due := time.Date(2026, 7, 6, 16, 0, 0, 0, time.UTC) // 17:00 BST
	tests := []struct {
		kind        string
		mutate      func(d *NoticeData)
		subject     string
		textHas     []string
		textHasNot  []string
		htmlHas     []string
		wantErrPart string
	}{
		{kind: "review-due", mutate: func(d *NoticeData) { d.DueAt = due },
			subject: "DSR: review due by Monday 6 July 2026", textHas: []string{"Monday 6 July 2026 at 17:00"}},
		{kind: "review-due", subject: "DSR: review due by Monday 7 December 2026",
			textHas: []string{"Monday 7 December 2026 at 17:00"}},
		{kind: "review-escalated", subject: "DSR: review overdue (escalation 2 of 3)",
			textHas: []string{"escalation 2 of 3"}, textHasNot: []string{"not known"}},
		{kind: "review-escalated", mutate: func(d *NoticeData) { d.ManagerMissing = true; d.Level = 3; d.MaxLevel = 0 },
			subject: "DSR: review overdue (escalation 3 of 3)", textHas: []string{"not known to the register", "coordinators"}},
		{kind: "action-escalated", mutate: func(d *NoticeData) { d.ManagerMissing = true; d.Level = 1; d.MaxLevel = 5 },
			subject: "DSR: action overdue (escalation 1 of 5)", textHas: []string{"owner's manager is not known", "coordinators"},
			htmlHas: []string{"<p>The owner's manager is not known"}},
		{kind: "action-due", subject: "DSR: action due by Monday 7 December 2026", textHas: []string{"An action", "described on the record"}},
		{kind: "rag-changed", subject: "DSR: rating changed from Amber to Red", textHas: []string{"from Amber to Red", "Red means an immediate risk"}},
		{kind: "rag-changed", mutate: func(d *NoticeData) { d.FromRating = ""; d.ToRating = "blue"; d.DueAt = time.Time{} },
			subject: "DSR: rating set to Blue", textHas: []string{"set to Blue", "in hospital"}, textHasNot: []string{"next review"}},
		{kind: "triage-overdue", mutate: func(d *NoticeData) { d.DueAt = time.Time{} },
			subject: "DSR: referral awaiting triage", textHasNot: []string{"due by"}},
		{kind: "referral-received", subject: "DSR: new referral to triage", textHas: []string{"by Monday 7 December 2026 at 17:00"}},
		{kind: "referral-declined", subject: "DSR: referral not accepted", textHas: []string{"reason is recorded"}},
		{kind: "digest", subject: "DSR weekly summary: 7 overdue, 9 escalated, 5 due soon",
			textHas: []string{"due soon:  1", "overdue:   2", "escalated: 3", "due soon:  4", "overdue:   5", "escalated: 6"}, textHasNot: []string{"Record reference"}},

		{kind: "no-such-kind", wantErrPart: "unknown kind"},
		{kind: "review-due", mutate: func(d *NoticeData) { d.DueAt = time.Time{} }, wantErrPart: "no due time"},
		{kind: "review-escalated", mutate: func(d *NoticeData) { d.Level = 0 }, wantErrPart: "escalation level"},
		{kind: "action-escalated", mutate: func(d *NoticeData) { d.Level = 4 }, wantErrPart: "escalation level"},
		{kind: "rag-changed", mutate: func(d *NoticeData) { d.ToRating = "purple" }, wantErrPart: "rating"},
		{kind: "review-due", mutate: func(d *NoticeData) { d.Link = "" }, wantErrPart: "no link"},
		{kind: "review-due", mutate: func(d *NoticeData) { d.Link = "javascript:alert(1)" }, wantErrPart: "link"},
		{kind: "review-due", mutate: func(d *NoticeData) { d.Link = PersonLink(base, "other") }, wantErrPart: "person's record"},
		{kind: "review-due", mutate: func(d *NoticeData) { d.PersonID = "" }, wantErrPart: "person id"},
		{kind: "digest", mutate: func(d *NoticeData) { d.PersonID = "p1" }, wantErrPart: "no one person"},
		{kind: "digest", mutate: func(d *NoticeData) { d.Link = base + "/" }, subject: "DSR weekly summary: 7 overdue, 9 escalated, 5 due soon",
			textHas: []string{"Open the register (sign-in required):\n" + base + "/\n"}},
		{kind: "digest", mutate: func(d *NoticeData) { d.Link = base + "/?overdue=true" }, wantErrPart: "query"},
		{kind: "digest", mutate: func(d *NoticeData) { d.Digest.ActionsDue = -1 }, wantErrPart: "negative"},
	}
	for _, tt := range tests {
		d := validData(tt.kind)
		if tt.mutate != nil {
			tt.mutate(&d)
		}
		subject, text, htmlOut, err := Render(tt.kind, d)
		if tt.wantErrPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErrPart) {
				t.Errorf("%s: err = %v, want one containing %q", tt.kind, err, tt.wantErrPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.kind, err)
			continue
		}
		if subject != tt.subject {
			t.Errorf("%s: subject %q, want %q", tt.kind, subject, tt.subject)
		}
		for _, s := range tt.textHas {
			if !strings.Contains(text, s) {
				t.Errorf("%s: text lacks %q:\n%s", tt.kind, s, text)
			}
		}
		for _, s := range tt.textHasNot {
			if strings.Contains(text, s) {
				t.Errorf("%s: text has %q:\n%s", tt.kind, s, text)
			}
		}
		for _, s := range tt.htmlHas {
			if !strings.Contains(htmlOut, s) {
				t.Errorf("%s: html lacks %q:\n%s", tt.kind, s, htmlOut)
			}
		}
	}
}

// Personal data put into any of NoticeData's string fields either is refused
// or does not come out. (The fields that carry it, names and free text, are
// not in NoticeData at all; this guards the ones that are. The link's prefix
// is DSR_BASE_URL, configuration rather than data, so it is not checked.)
func TestNoPersonalDataGetsThrough(t *testing.T) {
	fields := map[string]func(d *NoticeData, s string){
		"PersonID":        func(d *NoticeData, s string) { d.PersonID = s },
		"PersonID+Link":   func(d *NoticeData, s string) { d.PersonID = s; d.Link = PersonLink(base, s) },
		"Link query":      func(d *NoticeData, s string) { d.Link += "?name=" + s },
		"Link fragment":   func(d *NoticeData, s string) { d.Link += "#" + s },
		"Link user":       func(d *NoticeData, s string) { d.Link = "https://" + s + "@dsr.example.nhs.uk/people/" + d.PersonID },
		"FromRating":      func(d *NoticeData, s string) { d.FromRating = s },
		"ToRating":        func(d *NoticeData, s string) { d.ToRating = s },
		"Kind (in data)":  func(d *NoticeData, s string) { d.Kind = s },
		"digest PersonID": func(d *NoticeData, s string) { d.PersonID = s },
	}
	rendered := 0
	for _, kind := range Kinds {
		for fname, set := range fields {
			for _, sentinel := range sentinels {
				d := validData(kind)
				set(&d, sentinel)
				subject, text, htmlOut, err := Render(kind, d)
				if err != nil {
					continue
				}
				rendered++
				for _, out := range []string{subject, text, htmlOut} {
					if strings.Contains(out, sentinel) || strings.Contains(out, html.EscapeString(sentinel)) ||
						strings.Contains(out, strings.ReplaceAll(sentinel, " ", "%20")) {
						t.Errorf("%s: %q in %s came out:\n%s", kind, sentinel, fname, out)
					}
				}
			}
		}
	}
	// Some of these render (the sentinel is dropped, as with Kind, which
	// Render takes from its argument); the test is meaningful only if the
	// scan runs.
	if rendered == 0 {
		t.Fatal("nothing rendered; the scan checked nothing")
	}
	// Control: the scan does find a sentinel when one gets through.
	d := validData("review-due")
	d.PersonID = "Zebedee"
	d.Link = PersonLink(base, "Zebedee")
	if _, text, _, err := Render("review-due", d); err != nil || !strings.Contains(text, "Zebedee") {
		t.Fatalf("control: an opaque-looking id should render and be found (%v)", err)
	}
}

func TestLooksLikeNHSNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"9434765919": true, "943 476 5919": true, "943-476-5919": true,
		"9434765918": false, "943476591": false, "p-9434765919": false, "01J9ZP7K3M": false,
	} {
		if got := looksLikeNHSNumber(s); got != want {
			t.Errorf("looksLikeNHSNumber(%q) = %v", s, got)
		}
	}
}

// The HTML templates escape whatever reaches them, even with validation
// bypassed: nothing in them is marked safe, and a hostile link is defused.
func TestHTMLEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script>&'`
	for _, kind := range Kinds {
		v := view{
			NoticeData: NoticeData{
				Kind: kind, PersonID: evil, Link: `javascript:alert(1)`, ManagerMissing: true,
				Digest: DigestCounts{1, 1, 1, 1, 1, 1},
			},
			Due: evil, DueDay: evil, From: evil, To: evil, ToMeaning: evil, Subject: evil, Escalation: evil,
		}
		var b bytes.Buffer
		if err := htmlTemplates[kind].ExecuteTemplate(&b, "html", v); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		out := b.String()
		if strings.Contains(out, "<script>") || strings.Contains(out, `alert("x")`) {
			t.Errorf("%s: unescaped markup in HTML:\n%s", kind, out)
		}
		if strings.Contains(out, `href="javascript:`) {
			t.Errorf("%s: javascript: link not defused", kind)
		}
		if !strings.Contains(out, "&lt;script&gt;") {
			t.Errorf("%s: expected the escaped text to appear", kind)
		}
	}
	// Through Render, a base URL with HTML-special characters is escaped in
	// the href and left plain in the text.
	d := validData("review-due")
	d.Link = "https://dsr.example.nhs.uk/o'brien&co/people/" + d.PersonID
	_, text, htmlOut, err := Render("review-due", d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(htmlOut, `href="https://dsr.example.nhs.uk/o%27brien&amp;co/people/`) {
		t.Errorf("href not escaped:\n%s", htmlOut)
	}
	if !strings.Contains(text, d.Link) {
		t.Errorf("text link altered:\n%s", text)
	}
}

func BenchmarkRender(b *testing.B) {
	d := validData("review-escalated")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Render("review-escalated", d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderDigest(b *testing.B) {
	d := validData("digest")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Render("digest", d); err != nil {
			b.Fatal(err)
		}
	}
}
