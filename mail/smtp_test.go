package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/bsw-dsr/dsr/config"
)

// capture is a real SMTP server in this process (emersion/go-smtp) that
// keeps what it is sent and can be told to refuse at each stage.
type capture struct {
	t    testing.TB
	srv  *smtp.Server
	addr string

	mu       sync.Mutex
	received []delivery
	// Refusals by stage: "mail", "rcpt", "data". nil accepts.
	refuse map[string]*smtp.SMTPError
	// Auth: when user is set, AUTH is offered (mechs) and required.
	user, pass string
	mechs      []string
	authedAs   []string
}

type delivery struct {
	from string
	to   []string
	data []byte
}

type captureOpts struct {
	tls         *tls.Config // offer STARTTLS with this config
	implicitTLS bool        // listen with TLS from the first byte
	user, pass  string
	mechs       []string
}

func startCapture(t testing.TB, o captureOpts) *capture {
	t.Helper()
	c := &capture{t: t, refuse: map[string]*smtp.SMTPError{}, user: o.user, pass: o.pass, mechs: o.mechs}
	c.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }))
	c.srv.Domain = "capture.test"
	c.srv.ReadTimeout, c.srv.WriteTimeout = 10*time.Second, 10*time.Second
	c.srv.TLSConfig = o.tls
	var l net.Listener
	var err error
	if o.implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	c.addr = l.Addr().String()
	go c.srv.Serve(l)
	t.Cleanup(func() { c.srv.Close() })
	return c
}

func (c *capture) port() int {
	_, p, _ := net.SplitHostPort(c.addr)
	n := 0
	for _, r := range p {
		n = n*10 + int(r-'0')
	}
	return n
}

func (c *capture) setRefuse(stage string, e *smtp.SMTPError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refuse = map[string]*smtp.SMTPError{stage: e}
}

func (c *capture) refusal(stage string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.refuse[stage]; e != nil {
		return e
	}
	return nil
}

func (c *capture) deliveries() []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]delivery(nil), c.received...)
}

type session struct {
	c      *capture
	authed bool
	from   string
	to     []string
}

func (s *session) AuthMechanisms() []string {
	if s.c.user == "" {
		return nil
	}
	return s.c.mechs
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.c.user || pass != s.c.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		s.c.mu.Lock()
		s.c.authedAs = append(s.c.authedAs, mech+":"+user)
		s.c.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.c.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if err := s.c.refusal("mail"); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.c.refusal("rcpt"); err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.c.refusal("data"); err != nil {
		return err
	}
	s.c.mu.Lock()
	s.c.received = append(s.c.received, delivery{from: s.from, to: s.to, data: b})
	s.c.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client), the mechanism NHSmail and Exchange Online relays offer.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	step     int
	gotInput bool
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if resp != nil { // initial response carries the username
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a client
// config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "capture.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSender(t *testing.T, c *capture, cfg config.SMTP, opts ...Option) *SMTP {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", c.port()
	s, err := NewSMTP(cfg, "DSR <dsr@register.example.nhs.uk>", quietLogger(), append([]Option{WithTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parsed is a received message taken apart.
type parsed struct {
	header  netmail.Header
	subject string
	text    string
	html    string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: m.Header}
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(ct string, r io.Reader) {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			p.text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			p.html = string(b)
		}
	}
	if !strings.HasPrefix(mt, "multipart/") {
		if m.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			t.Fatalf("single-part QP body not handled by this test helper")
		}
		read(mt, m.Body)
		return p
	}
	// multipart.Reader decodes quoted-printable parts itself.
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read(part.Header.Get("Content-Type"), part)
	}
	return p
}

func TestSendDeliversOneMessageWithHeadersAndParts(t *testing.T) {
	c := startCapture(t, captureOpts{})
	s := newSender(t, c, config.SMTP{TLS: "none"})
	subject, text, html, err := Render("review-escalated", NoticeData{
		PersonID: "p-7f3a", Link: PersonLink("https://dsr.example.nhs.uk", "p-7f3a"),
		DueAt: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC), Level: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := Message{
		To:        []string{"manager@trust.nhs.uk", "Coordinator <dsr.coordinator@icb.nhs.uk>"},
		ReplyTo:   "dsr.team@icb.nhs.uk",
		Kind:      "review-escalated",
		PersonID:  "p-7f3a",
		Subject:   subject,
		Text:      text,
		HTML:      html,
		MessageID: "p-7f3a/review-escalated/2026-12-07T17:00:00Z/2",
		Date:      time.Date(2026, 12, 9, 17, 0, 5, 0, time.UTC),
		Headers:   map[string]string{"X-DSR-Occasion": "2"},
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := c.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1 (one message for all recipients)", len(got))
	}
	d := got[0]
	if d.from != "dsr@register.example.nhs.uk" {
		t.Errorf("envelope from %q", d.from)
	}
	if strings.Join(d.to, ",") != "manager@trust.nhs.uk,dsr.coordinator@icb.nhs.uk" {
		t.Errorf("envelope to %v", d.to)
	}
	p := parse(t, d.data)
	wantID := "<" + messageID(m.MessageID, "register.example.nhs.uk") + ">"
	for name, want := range map[string]string{
		"X-DSR-Kind":     "review-escalated",
		"X-DSR-Person":   "p-7f3a",
		"X-DSR-Occasion": "2",
		"Message-ID":     wantID,
		"Auto-Submitted": "auto-generated",
		"Reply-To":       "<dsr.team@icb.nhs.uk>",
	} {
		if g := p.header.Get(name); g != want {
			t.Errorf("header %s = %q, want %q", name, g, want)
		}
	}
	if date, err := p.header.Date(); err != nil || !date.Equal(m.Date) {
		t.Errorf("Date = %v, %v; want %v", date, err, m.Date)
	}
	if p.subject != "DSR: review overdue (escalation 2 of 3)" {
		t.Errorf("subject %q", p.subject)
	}
	if strings.ReplaceAll(p.text, "\r\n", "\n") != text {
		t.Errorf("text part differs:\n%q\nwant\n%q", p.text, text)
	}
	if !strings.Contains(p.text, "https://dsr.example.nhs.uk/people/p-7f3a") {
		t.Error("text part has no link")
	}
	if !strings.Contains(p.html, `href="https://dsr.example.nhs.uk/people/p-7f3a"`) {
		t.Errorf("html part has no link: %q", p.html)
	}

	// A resend of the same notice carries the same Message-ID; another
	// notice a different one.
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	m2 := m
	m2.MessageID = "p-7f3a/review-escalated/2026-12-07T17:00:00Z/3"
	if err := s.Send(context.Background(), m2); err != nil {
		t.Fatal(err)
	}
	got = c.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3", len(got))
	}
	if id := parse(t, got[1].data).header.Get("Message-ID"); id != wantID {
		t.Errorf("resend Message-ID %q, want %q", id, wantID)
	}
	if id := parse(t, got[2].data).header.Get("Message-ID"); id == wantID || !strings.HasSuffix(id, "@register.example.nhs.uk>") {
		t.Errorf("other notice Message-ID %q", id)
	}
}

func TestSendTextOnly(t *testing.T) {
	c := startCapture(t, captureOpts{})
	s := newSender(t, c, config.SMTP{TLS: "none"})
	err := s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "digest", Subject: "DSR: £ test", Text: "Hello — plain only.\n"})
	if err != nil {
		t.Fatal(err)
	}
	d := c.deliveries()
	if len(d) != 1 {
		t.Fatalf("%d deliveries", len(d))
	}
	m, err := netmail.ReadMessage(bytes.NewReader(d[0].data))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("X-DSR-Person") != "" {
		t.Error("X-DSR-Person set without a person")
	}
	if m.Header.Get("Message-ID") == "" {
		t.Error("no Message-ID")
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subj != "DSR: £ test" {
		t.Errorf("subject %q", subj)
	}
}

func TestTLSModesAndAuth(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name     string
		opts     captureOpts
		cfg      config.SMTP
		wantAuth string // "" means no AUTH expected
		wantErr  bool
	}{
		{name: "starttls with PLAIN", opts: captureOpts{tls: serverTLS, user: "dsr", pass: "s3cret", mechs: []string{"PLAIN", "LOGIN"}},
			cfg: config.SMTP{TLS: "starttls", Username: "dsr", Password: "s3cret"}, wantAuth: "PLAIN:dsr"},
		{name: "starttls with LOGIN only", opts: captureOpts{tls: serverTLS, user: "dsr", pass: "s3cret", mechs: []string{"LOGIN"}},
			cfg: config.SMTP{TLS: "starttls", Username: "dsr", Password: "s3cret"}, wantAuth: "LOGIN:dsr"},
		{name: "implicit tls with auth", opts: captureOpts{tls: serverTLS, implicitTLS: true, user: "dsr", pass: "s3cret", mechs: []string{"PLAIN"}},
			cfg: config.SMTP{TLS: "tls", Username: "dsr", Password: "s3cret"}, wantAuth: "PLAIN:dsr"},
		{name: "implicit tls without auth", opts: captureOpts{tls: serverTLS, implicitTLS: true},
			cfg: config.SMTP{TLS: "tls"}},
		{name: "starttls without auth", opts: captureOpts{tls: serverTLS},
			cfg: config.SMTP{TLS: "starttls"}},
		{name: "starttls required but not offered", opts: captureOpts{},
			cfg: config.SMTP{TLS: "starttls"}, wantErr: true},
		{name: "wrong password", opts: captureOpts{tls: serverTLS, user: "dsr", pass: "s3cret", mechs: []string{"PLAIN"}},
			cfg: config.SMTP{TLS: "starttls", Username: "dsr", Password: "wrong"}, wantErr: true},
		{name: "server needs auth, none configured", opts: captureOpts{tls: serverTLS, user: "dsr", pass: "s3cret", mechs: []string{"PLAIN"}},
			cfg: config.SMTP{TLS: "starttls"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCapture(t, tt.opts)
			s := newSender(t, c, tt.cfg, WithTLSConfig(clientTLS))
			err := s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "digest", Subject: "s", Text: "t"})
			if tt.wantErr {
				if err == nil {
					t.Fatal("sent, want an error")
				}
				// Server and configuration problems are never permanent:
				// the notice must wait for an operator's fix, not be dropped.
				if IsPermanent(err) {
					t.Errorf("IsPermanent(%v) = true", err)
				}
				if len(c.deliveries()) != 0 {
					t.Error("delivered despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.deliveries()) != 1 {
				t.Fatalf("%d deliveries", len(c.deliveries()))
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if got := strings.Join(c.authedAs, ","); got != tt.wantAuth {
				t.Errorf("authenticated as %q, want %q", got, tt.wantAuth)
			}
		})
	}
}

func TestTLSRejectsUntrustedCertificate(t *testing.T) {
	serverTLS, _ := selfSigned(t)
	c := startCapture(t, captureOpts{tls: serverTLS})
	s := newSender(t, c, config.SMTP{TLS: "starttls"}) // system roots only
	err := s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "digest", Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("sent over TLS to an untrusted certificate")
	}
	if IsPermanent(err) {
		t.Errorf("certificate failure reported permanent: %v", err)
	}
}

func TestRefusalsTransientOrPermanent(t *testing.T) {
	c := startCapture(t, captureOpts{})
	s := newSender(t, c, config.SMTP{TLS: "none"})
	msg := Message{To: []string{"a@b.nhs.uk", "c@d.nhs.uk"}, Kind: "review-due", PersonID: "p1", Subject: "s", Text: "t"}
	tests := []struct {
		stage     string
		code      int
		enhanced  smtp.EnhancedCode
		permanent bool
	}{
		{"mail", 451, smtp.EnhancedCode{4, 3, 0}, false},
		{"mail", 550, smtp.EnhancedCode{5, 1, 8}, false}, // our sender refused: configuration
		{"mail", 530, smtp.EnhancedCode{5, 7, 0}, false}, // authentication required
		{"rcpt", 450, smtp.EnhancedCode{4, 2, 1}, false},
		{"rcpt", 452, smtp.EnhancedCode{4, 5, 3}, false},
		{"rcpt", 550, smtp.EnhancedCode{5, 1, 1}, true},  // user unknown
		{"rcpt", 553, smtp.EnhancedCode{5, 1, 3}, true},  // bad address syntax
		{"rcpt", 550, smtp.EnhancedCode{5, 7, 1}, false}, // relaying denied: configuration
		{"rcpt", 530, smtp.EnhancedCode{5, 7, 0}, false},
		{"data", 451, smtp.EnhancedCode{4, 3, 0}, false},
		{"data", 452, smtp.EnhancedCode{4, 3, 1}, false},
		{"data", 554, smtp.EnhancedCode{5, 6, 0}, true}, // content refused
		{"data", 552, smtp.EnhancedCode{5, 3, 4}, true}, // too big
	}
	for _, tt := range tests {
		c.setRefuse(tt.stage, &smtp.SMTPError{Code: tt.code, EnhancedCode: tt.enhanced, Message: "refused for test"})
		err := s.Send(context.Background(), msg)
		if err == nil {
			t.Errorf("%s %d: no error", tt.stage, tt.code)
			continue
		}
		if got := IsPermanent(err); got != tt.permanent {
			t.Errorf("%s %d %v: IsPermanent = %v, want %v (%v)", tt.stage, tt.code, tt.enhanced, got, tt.permanent, err)
		}
	}
	if n := len(c.deliveries()); n != 0 {
		t.Errorf("%d messages delivered despite refusals", n)
	}
	// Once the server accepts again, the same message goes.
	c.setRefuse("", nil)
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if n := len(c.deliveries()); n != 1 {
		t.Errorf("%d deliveries after recovery", n)
	}
}

func TestServerDownIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, err := NewSMTP(config.SMTP{Host: "127.0.0.1", Port: port, TLS: "none"}, "dsr@localhost", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "digest", Subject: "s", Text: "t"})
	if err == nil || IsPermanent(err) {
		t.Errorf("server down: err = %v, permanent = %v; want a transient error", err, IsPermanent(err))
	}
}

func TestSendTimesOutOnSilentServer(t *testing.T) {
	// A server that accepts the connection and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	s, err := NewSMTP(config.SMTP{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "none"}, "dsr@localhost", quietLogger(),
		WithTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "digest", Subject: "s", Text: "t"})
	if err == nil || IsPermanent(err) {
		t.Errorf("silent server: err = %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s; the timeout is 500ms", el)
	}
}

func TestInvalidMessagesArePermanentAndNotSent(t *testing.T) {
	c := startCapture(t, captureOpts{})
	s := newSender(t, c, config.SMTP{TLS: "none"})
	ok := Message{To: []string{"a@b.nhs.uk"}, Kind: "review-due", PersonID: "p1", Subject: "s", Text: "t"}
	tests := map[string]func(m *Message){
		"no recipients":        func(m *Message) { m.To = nil },
		"bad recipient":        func(m *Message) { m.To = []string{"not an address"} },
		"no text":              func(m *Message) { m.Text = " " },
		"no subject":           func(m *Message) { m.Subject = "" },
		"no kind":              func(m *Message) { m.Kind = "" },
		"header injection":     func(m *Message) { m.Subject = "s\r\nBcc: x@evil.example" },
		"person id injection":  func(m *Message) { m.PersonID = "p1\nBcc: x@evil.example" },
		"extra header newline": func(m *Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: x@evil.example"} },
		"reserved header":      func(m *Message) { m.Headers = map[string]string{"Bcc": "x@evil.example"} },
		"bad header name":      func(m *Message) { m.Headers = map[string]string{"X A": "1"} },
		"bad reply-to":         func(m *Message) { m.ReplyTo = "nope" },
	}
	for name, mutate := range tests {
		m := ok
		mutate(&m)
		err := s.Send(context.Background(), m)
		if !errors.Is(err, ErrInvalidMessage) || !IsPermanent(err) {
			t.Errorf("%s: err = %v, want a permanent ErrInvalidMessage", name, err)
		}
	}
	if n := len(c.deliveries()); n != 0 {
		t.Errorf("%d invalid messages delivered", n)
	}
}

func TestNewSMTPConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.SMTP
		from string
		want string
	}{
		{"no host", config.SMTP{Port: 25}, "dsr@x.nhs.uk", "DSR_SMTP_HOST"},
		{"bad port", config.SMTP{Host: "h", Port: 0}, "dsr@x.nhs.uk", "DSR_SMTP_PORT"},
		{"bad tls", config.SMTP{Host: "h", Port: 25, TLS: "ssl"}, "dsr@x.nhs.uk", "DSR_SMTP_TLS"},
		{"password only", config.SMTP{Host: "h", Port: 25, Password: "p"}, "dsr@x.nhs.uk", "DSR_SMTP_USERNAME"},
		{"bad from", config.SMTP{Host: "h", Port: 25}, "not an address", "DSR_MAIL_FROM"},
		{"ok", config.SMTP{Host: "h", Port: 587, TLS: "starttls", Username: "u", Password: "p"}, "DSR <dsr@x.nhs.uk>", ""},
		{"ok, tls empty means none", config.SMTP{Host: "h", Port: 25}, "dsr@localhost", ""},
	}
	for _, tt := range tests {
		_, err := NewSMTP(tt.cfg, tt.from, nil)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one naming %s", tt.name, err, tt.want)
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	c := startCapture(t, captureOpts{})
	s := newSender(t, c, config.SMTP{TLS: "none"})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			errs <- s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "digest", Subject: "s", Text: "t",
				MessageID: "k" + string(rune('a'+i))})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(c.deliveries()); n != 20 {
		t.Errorf("%d deliveries, want 20", n)
	}
}

// BenchmarkSend measures one notice end to end over loopback: render, dial,
// EHLO, MAIL, RCPT, DATA, QUIT.
func BenchmarkSend(b *testing.B) {
	c := startCapture(b, captureOpts{})
	s, err := NewSMTP(config.SMTP{Host: "127.0.0.1", Port: c.port(), TLS: "none"}, "dsr@localhost", quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	d := validData("review-due")
	for b.Loop() {
		subject, text, html, err := Render("review-due", d)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Send(context.Background(), Message{To: []string{"a@b.nhs.uk"}, Kind: "review-due", PersonID: d.PersonID,
			Subject: subject, Text: text, HTML: html, MessageID: "k"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSendWithInvitation(t *testing.T) {
	c := startCapture(t, captureOpts{})
	s := newSender(t, c, config.SMTP{TLS: "none"})
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
	m := Message{To: []string{"a@b.nhs.uk"}, Kind: "meeting-agenda", Subject: "DSR meeting", Text: "See the link.\n",
		Calendar: ics, CalendarMethod: "REQUEST"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	raw := string(c.deliveries()[0].data)
	if !strings.Contains(raw, "text/calendar; method=REQUEST") {
		t.Errorf("no text/calendar part with its method:\n%s", raw)
	}
	m.CalendarMethod = "PUBLISH"
	if err := s.Send(context.Background(), m); err == nil || !IsPermanent(err) {
		t.Errorf("an unknown method was sent: %v", err)
	}
}
