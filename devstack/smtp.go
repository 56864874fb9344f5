package devstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Captured is one message the capture server accepted.
type Captured struct {
	From     string   // envelope sender (MAIL FROM)
	To       []string // envelope recipients (RCPT TO)
	Header   mail.Header
	Raw      []byte // the message as received, headers and body
	File     string // the .eml file, empty when not kept on disk
	Received time.Time
}

// Subject is the decoded Subject header.
func (c Captured) Subject() string {
	s := c.Header.Get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// Text is the decoded text/plain body (the first such part of a multipart
// message), or "" when there is none.
func (c Captured) Text() string { return c.part("text/plain") }

// HTML is the decoded text/html body, or "" when there is none.
func (c Captured) HTML() string { return c.part("text/html") }

// Calendar is the decoded text/calendar part (an invitation), or "".
func (c Captured) Calendar() string { return c.part("text/calendar") }

func (c Captured) part(want string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(c.Raw))
	if err != nil {
		return ""
	}
	return findPart(textproto.MIMEHeader(msg.Header), msg.Body, want)
}

func findPart(h textproto.MIMEHeader, body io.Reader, want string) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart() // raw: we decode transfer encodings ourselves
			if err != nil {
				return ""
			}
			if s := findPart(p.Header, p, want); s != "" {
				return s
			}
		}
	}
	if mt != want {
		return ""
	}
	var dec io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		dec = quotedprintable.NewReader(body)
	case "base64":
		dec = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(dec)
	if err != nil {
		return ""
	}
	return string(b)
}

// SMTPCapture is an SMTP server on 127.0.0.1 that accepts every message
// (unless told to refuse) and keeps it in memory and, when it has a folder,
// as a .eml file there: the dev stack's stand-in for a mail server, and
// the tests' way to see what was sent.
type SMTPCapture struct {
	srv  *smtp.Server
	addr *net.TCPAddr
	dir  string

	mu      sync.Mutex
	msgs    []Captured
	refuse  bool
	refused map[string]bool // addresses refused for good (550)
	delay   time.Duration   // before answering DATA: a slow server
	changed chan struct{}   // closed and replaced whenever msgs grows
	seq     int
}

// StartSMTP starts a capture server on a free loopback port. dir, if not
// empty, receives one .eml file per message (created if missing).
func StartSMTP(dir string) (*SMTPCapture, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("smtp capture: create %s: %w", dir, err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtp capture: listen: %w", err)
	}
	c := &SMTPCapture{addr: l.Addr().(*net.TCPAddr), dir: dir, changed: make(chan struct{})}
	c.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &captureSession{c: c}, nil
	}))
	c.srv.Domain = "localhost"
	c.srv.MaxMessageBytes = 25 << 20
	c.srv.MaxRecipients = 500
	c.srv.ReadTimeout = time.Minute
	c.srv.WriteTimeout = time.Minute
	go c.srv.Serve(l)
	return c, nil
}

// Addr is host:port.
func (c *SMTPCapture) Addr() string { return c.addr.String() }

// Host is the address to dial, 127.0.0.1.
func (c *SMTPCapture) Host() string { return c.addr.IP.String() }

// Port is the TCP port.
func (c *SMTPCapture) Port() int { return c.addr.Port }

// Dir is the folder of .eml files, "" when messages are kept in memory only.
func (c *SMTPCapture) Dir() string { return c.dir }

// Close stops the server; messages already captured stay readable.
func (c *SMTPCapture) Close() error { return c.srv.Close() }

// SetRefuse makes the server answer every new message with a temporary
// failure (451), as a mail server that is down or overloaded would.
func (c *SMTPCapture) SetRefuse(refuse bool) {
	c.mu.Lock()
	c.refuse = refuse
	c.mu.Unlock()
}

// RefuseAddress makes the server refuse this recipient for good, with 550
// 5.1.1 at RCPT TO, as a server does for a mistyped address. Addresses in
// the reserved .invalid domain (RFC 2606) are always refused so: dsr dev
// shows what a refused address does without any setting.
func (c *SMTPCapture) RefuseAddress(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused == nil {
		c.refused = map[string]bool{}
	}
	c.refused[strings.ToLower(addr)] = true
}

// SetDelay makes the server wait this long before answering each message's
// data: a slow mail server.
func (c *SMTPCapture) SetDelay(d time.Duration) {
	c.mu.Lock()
	c.delay = d
	c.mu.Unlock()
}

func (c *SMTPCapture) refusesAddress(addr string) bool {
	a := strings.ToLower(strings.Trim(addr, "<>"))
	if strings.HasSuffix(a, ".invalid") {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[a]
}

func (c *SMTPCapture) dataDelay() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delay
}

// Messages returns the messages captured so far, oldest first.
func (c *SMTPCapture) Messages() []Captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Captured(nil), c.msgs...)
}

// WaitFor returns the first captured message (already received or yet to
// come) for which match is true, or ctx's error.
func (c *SMTPCapture) WaitFor(ctx context.Context, match func(Captured) bool) (Captured, error) {
	seen := 0
	for {
		c.mu.Lock()
		msgs, changed := c.msgs[seen:], c.changed
		seen = len(c.msgs)
		c.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Captured{}, fmt.Errorf("smtp capture: no matching message: %w", ctx.Err())
		}
	}
}

var errRefused = &smtp.SMTPError{
	Code:         451,
	EnhancedCode: smtp.EnhancedCode{4, 3, 0},
	Message:      "Mail server temporarily unavailable (refusing by request)",
}

func (c *SMTPCapture) refusing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refuse
}

func (c *SMTPCapture) store(m Captured) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if c.dir != "" {
		name := fmt.Sprintf("%s-%04d.eml", m.Received.UTC().Format("20060102T150405.000Z"), c.seq)
		path := filepath.Join(c.dir, name)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, m.Raw, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		m.File = path
	}
	c.msgs = append(c.msgs, m)
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

type captureSession struct {
	c    *SMTPCapture
	from string
	to   []string
}

func (s *captureSession) Reset()        { s.from, s.to = "", nil }
func (s *captureSession) Logout() error { return nil }

func (s *captureSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.c.refusing() {
		return errRefused
	}
	s.from = from
	return nil
}

var errUnknownUser = &smtp.SMTPError{
	Code:         550,
	EnhancedCode: smtp.EnhancedCode{5, 1, 1},
	Message:      "No such user here",
}

func (s *captureSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.c.refusesAddress(to) {
		return errUnknownUser
	}
	s.to = append(s.to, to)
	return nil
}

func (s *captureSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d := s.c.dataDelay(); d > 0 {
		time.Sleep(d)
	}
	// Checked again here so a refusal switched on mid-transaction holds.
	if s.c.refusing() {
		return errRefused
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message: " + err.Error()}
	}
	m := Captured{From: s.from, To: append([]string(nil), s.to...), Header: msg.Header, Raw: raw, Received: time.Now()}
	if err := s.c.store(m); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not store message: " + strconv.Quote(err.Error())}
	}
	return nil
}
