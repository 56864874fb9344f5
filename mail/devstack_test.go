package mail

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
)

// The dev stack's capture server (what `dsr dev` and the end-to-end tests
// read mail from) receives our messages whole, and its refusal is a
// transient error. The other tests use their own go-smtp backend because
// they need TLS, AUTH and 5xx refusals at each stage.
func TestWithDevstackCapture(t *testing.T) {
	c, err := devstack.StartSMTP(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := NewSMTP(config.SMTP{Host: c.Host(), Port: c.Port(), TLS: "none"}, "dsr@localhost", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	d := validData("review-due")
	subject, text, html, err := Render("review-due", d)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{To: []string{"a@b.nhs.uk", "c@d.nhs.uk"}, Kind: "review-due", PersonID: d.PersonID,
		Subject: subject, Text: text, HTML: html, MessageID: d.PersonID + "/review-due/1"}

	c.SetRefuse(true)
	if err := s.Send(context.Background(), m); err == nil || IsPermanent(err) {
		t.Fatalf("while refusing: err = %v, want a transient error", err)
	}
	c.SetRefuse(false)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.WaitFor(ctx, func(m devstack.Captured) bool { return m.Header.Get("X-DSR-Kind") == "review-due" })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Messages()); n != 1 {
		t.Errorf("%d messages captured, want 1", n)
	}
	if got.Subject() != subject {
		t.Errorf("subject %q", got.Subject())
	}
	if strings.ReplaceAll(got.Text(), "\r\n", "\n") != text {
		t.Errorf("text %q", got.Text())
	}
	if !strings.Contains(got.HTML(), `href="`+d.Link+`"`) {
		t.Errorf("html %q", got.HTML())
	}
	if got.Header.Get("X-DSR-Person") != d.PersonID || got.Header.Get("Message-ID") != "<"+messageID(m.MessageID, "localhost")+">" {
		t.Errorf("headers %v", got.Header)
	}
	if strings.Join(got.To, ",") != "a@b.nhs.uk,c@d.nhs.uk" {
		t.Errorf("to %v", got.To)
	}
}

// SendEach: one refused address refuses only itself (permanently); the
// others are accepted, each as a copy of its own with the notice's
// Message-ID. Summary says what went wrong without naming anyone.
func TestSendEachRefusesOnlyTheRefused(t *testing.T) {
	c, err := devstack.StartSMTP("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.RefuseAddress("typo@b.nhs.uk")
	s, err := NewSMTP(config.SMTP{Host: c.Host(), Port: c.Port(), TLS: "none"}, "dsr@localhost", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	d := validData("review-due")
	subject, text, html, err := Render("review-due", d)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{To: []string{"a@b.nhs.uk", "typo@b.nhs.uk", "c@d.nhs.uk"}, Kind: "review-due", PersonID: d.PersonID,
		Subject: subject, Text: text, HTML: html, MessageID: d.PersonID + "/review-due/2"}
	res := s.SendEach(context.Background(), m)
	for _, r := range res {
		switch {
		case r.To == "typo@b.nhs.uk":
			if !IsPermanent(r.Err) {
				t.Errorf("the refused address: %v, want a permanent refusal", r.Err)
			}
			if sum := Summary(r.Err); !strings.Contains(sum, "550") || strings.Contains(sum, "typo") {
				t.Errorf("Summary %q: want the reply code and no address", sum)
			}
		case r.Err != nil:
			t.Errorf("%s: %v", r.To, r.Err)
		}
	}
	got := c.Messages()
	if len(got) != 2 || got[0].Header.Get("Message-Id") != got[1].Header.Get("Message-Id") || len(got[0].To) != 1 {
		t.Fatalf("captured %d messages; want 2 single-recipient copies with one Message-ID", len(got))
	}
}
