package devstack

import (
	"context"
	"errors"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const multipartMsg = "From: DSR <dsr@localhost>\r\n" +
	"To: a@example.org, b@example.org\r\n" +
	"Subject: =?UTF-8?Q?Review_due_=E2=80=93_soon?=\r\n" +
	"X-DSR-Kind: review-due\r\n" +
	"X-DSR-Person: 7b0c\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"A review is due =E2=80=93 see http://localhost/people/7b0c\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+QSByZXZpZXcgaXMgZHVlPC9wPg==\r\n" +
	"--b1--\r\n"

func TestSMTPCaptureStoresMessages(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail")
	c, err := StartSMTP(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan Captured, 1)
	go func() {
		m, err := c.WaitFor(ctx, func(m Captured) bool { return m.Header.Get("X-DSR-Kind") == "review-due" })
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()

	if err := smtp.SendMail(c.Addr(), nil, "dsr@localhost", []string{"a@example.org", "b@example.org"}, []byte(multipartMsg)); err != nil {
		t.Fatal(err)
	}
	m := <-got
	if m.From != "dsr@localhost" || strings.Join(m.To, ",") != "a@example.org,b@example.org" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if s := m.Subject(); s != "Review due – soon" {
		t.Errorf("Subject() = %q", s)
	}
	if p := m.Header.Get("X-DSR-Person"); p != "7b0c" {
		t.Errorf("X-DSR-Person = %q", p)
	}
	if txt := m.Text(); !strings.Contains(txt, "A review is due – see http://localhost/people/7b0c") {
		t.Errorf("Text() = %q", txt)
	}
	if h := m.HTML(); h != "<p>A review is due</p>" {
		t.Errorf("HTML() = %q", h)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 || files[0] != m.File {
		t.Fatalf("eml files = %v, File = %q", files, m.File)
	}
	b, err := os.ReadFile(m.File)
	if err != nil || string(b) != string(m.Raw) {
		t.Fatalf("file differs from Raw (err %v)", err)
	}
	if n := len(c.Messages()); n != 1 {
		t.Fatalf("Messages() has %d, want 1", n)
	}
}

func TestSMTPCaptureRefusesWithTemporaryError(t *testing.T) {
	t.Parallel()
	c, err := StartSMTP("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")

	c.SetRefuse(true)
	err = smtp.SendMail(c.Addr(), nil, "dsr@localhost", []string{"a@example.org"}, msg)
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code/100 != 4 {
		t.Fatalf("send while refusing: err = %v, want a 4xx reply", err)
	}
	if n := len(c.Messages()); n != 0 {
		t.Fatalf("captured %d messages while refusing", n)
	}

	c.SetRefuse(false)
	if err := smtp.SendMail(c.Addr(), nil, "dsr@localhost", []string{"a@example.org"}, msg); err != nil {
		t.Fatalf("send after refusing stopped: %v", err)
	}
	ms := c.Messages()
	if len(ms) != 1 || ms[0].Subject() != "hi" || ms[0].Text() != "body\r\n" || ms[0].File != "" {
		t.Fatalf("Messages() = %+v", ms)
	}
}

func TestSMTPCaptureWaitForTimesOut(t *testing.T) {
	t.Parallel()
	c, err := StartSMTP("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.WaitFor(ctx, func(Captured) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor on no mail: err = %v", err)
	}
}
