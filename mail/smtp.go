package mail

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/bsw-dsr/dsr/config"
)

// ErrInvalidMessage means the message itself is unusable (no recipient, a
// malformed address, no text part, a header with a line break). Retrying
// cannot help, so IsPermanent reports it.
var ErrInvalidMessage = errors.New("invalid message")

// DefaultTimeout bounds connecting and each exchange with the server.
const DefaultTimeout = 30 * time.Second

// SMTP sends messages through one SMTP server. It dials afresh for each
// message (notices are few, and a fresh connection never meets a server
// that has quietly dropped an idle one), and is safe for concurrent use.
type SMTP struct {
	cfg     config.SMTP
	from    string
	domain  string // for Message-IDs
	logger  *slog.Logger
	timeout time.Duration
	tlsConf *tls.Config
}

var _ Sender = (*SMTP)(nil)

// Option adjusts an SMTP sender.
type Option func(*SMTP)

// WithTLSConfig sets the TLS configuration for starttls and tls modes, for
// a server whose certificate is signed by a private CA (and in tests).
func WithTLSConfig(c *tls.Config) Option { return func(s *SMTP) { s.tlsConf = c } }

// WithTimeout replaces DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(s *SMTP) { s.timeout = d } }

// NewSMTP checks the configuration and returns a sender. It does not
// connect: the mail server may be down at start and come up later.
// TLS "none" sends in the clear, "starttls" requires STARTTLS, "tls" is
// implicit TLS (SMTPS). With a username, it authenticates with the best
// mechanism the server offers (SCRAM, CRAM-MD5, PLAIN, LOGIN); PLAIN and
// LOGIN only over TLS (or to localhost), so a password never crosses the
// network in the clear.
func NewSMTP(cfg config.SMTP, from string, logger *slog.Logger, opts ...Option) (*SMTP, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s := &SMTP{cfg: cfg, from: from, logger: logger, timeout: DefaultTimeout}
	for _, o := range opts {
		o(s)
	}
	if cfg.Host == "" {
		return nil, errors.New("mail: no SMTP host (DSR_SMTP_HOST)")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: SMTP port %d out of range (DSR_SMTP_PORT)", cfg.Port)
	}
	switch cfg.TLS {
	case "":
		s.cfg.TLS = "none"
	case "none", "starttls", "tls":
	default:
		return nil, fmt.Errorf("mail: SMTP TLS mode %q is not one of none, starttls, tls (DSR_SMTP_TLS)", cfg.TLS)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("mail: SMTP password set without a username (DSR_SMTP_USERNAME)")
	}
	if s.timeout <= 0 {
		return nil, fmt.Errorf("mail: timeout %s must be positive", s.timeout)
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q (DSR_MAIL_FROM): %w", from, err)
	}
	_, s.domain, _ = strings.Cut(addr.Address, "@")
	if s.domain == "" {
		s.domain = "localhost"
	}
	// Build one client now so that option errors surface at start.
	if _, err := s.client(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.timeout),
	}
	switch s.cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.tlsConf != nil {
		tc := s.tlsConf.Clone()
		if tc.ServerName == "" {
			tc.ServerName = s.cfg.Host
		}
		opts = append(opts, gomail.WithTLSConfig(tc))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client for %s: %w", s.addr(), err)
	}
	return c, nil
}

func (s *SMTP) addr() string { return s.cfg.Host + ":" + strconv.Itoa(s.cfg.Port) }

// messageID derives the Message-ID from the notice key. Hashing keeps it
// valid whatever the key holds, and the same key always gives the same ID.
func messageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return "dsr." + hex.EncodeToString(sum[:16]) + "@" + domain
}

// reserved headers are set from Message's own fields.
var reserved = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "reply-to": true, "subject": true,
	"date": true, "message-id": true, "mime-version": true, "content-type": true,
	"content-transfer-encoding": true, "x-dsr-kind": true, "x-dsr-person": true,
}

func (s *SMTP) build(m Message) (*gomail.Msg, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, a...))
	}
	if len(m.To) == 0 {
		return nil, invalid("no recipients")
	}
	if strings.TrimSpace(m.Subject) == "" || strings.TrimSpace(m.Text) == "" {
		return nil, invalid("subject and text part are required")
	}
	if m.Kind == "" {
		return nil, invalid("no kind (X-DSR-Kind)")
	}
	for _, v := range []string{m.Kind, m.PersonID, m.Subject} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, invalid("line break in a header")
		}
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, invalid("sender: %v", err)
	}
	if err := msg.To(m.To...); err != nil {
		return nil, invalid("recipient: %v", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, invalid("reply-to: %v", err)
		}
	}
	for k, v := range m.Headers {
		if !validHeaderName(k) || strings.ContainsAny(v, "\r\n") {
			return nil, invalid("header %q", k)
		}
		if reserved[strings.ToLower(k)] {
			return nil, invalid("header %q is set from the message's own fields", k)
		}
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.Subject(m.Subject)
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(messageID(m.MessageID, s.domain))
	} else {
		msg.SetMessageID()
	}
	if m.Date.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.Date)
	}
	msg.SetGenHeader("X-DSR-Kind", m.Kind)
	if m.PersonID != "" {
		msg.SetGenHeader("X-DSR-Person", m.PersonID)
	}
	// Automatic notices: ask auto-responders (out-of-office) not to reply
	// (RFC 3834; the second is Exchange's own).
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if m.Calendar != "" {
		switch m.CalendarMethod {
		case "REQUEST", "CANCEL":
		default:
			return nil, invalid("calendar method %q", m.CalendarMethod)
		}
		msg.AddAlternativeString(gomail.ContentType("text/calendar; method="+m.CalendarMethod), m.Calendar)
	}
	return msg, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r <= ' ' || r >= 0x7f || r == ':' {
			return false
		}
	}
	return true
}

// Send delivers m as one message to all of m.To. A nil error means the
// server accepted it for every recipient.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return fmt.Errorf("mail: %s: %w", m.Kind, err)
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if !msg.IsDelivered() {
			return fmt.Errorf("mail: send %s to %d recipient(s) via %s: %w", m.Kind, len(m.To), s.addr(), err)
		}
		// The server accepted the message and only the RSET or QUIT after it
		// failed: reporting an error would make the caller send it twice.
		s.logger.Warn("mail accepted but closing the session failed", "kind", m.Kind, "error", err)
	}
	s.logger.Info("mail sent", "kind", m.Kind, "person", m.PersonID, "message_id", msg.GetMessageID(),
		"recipients", len(m.To), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// SendEach sends a copy of m to each of m.To alone, all over one
// connection, and reports each recipient's outcome. The copies share one
// Message-ID: they are one message, delivered separately so that a refused
// address refuses only itself (a server that refuses one RCPT would
// otherwise refuse the whole message).
func (s *SMTP) SendEach(ctx context.Context, m Message) []Delivery {
	out := make([]Delivery, len(m.To))
	msgs := make([]*gomail.Msg, 0, len(m.To))
	idx := make([]int, 0, len(m.To))
	for i, to := range m.To {
		out[i].To = to
		one := m
		one.To = []string{to}
		msg, err := s.build(one)
		if err != nil {
			out[i].Err = fmt.Errorf("mail: %s: %w", m.Kind, err)
			continue
		}
		msgs = append(msgs, msg)
		idx = append(idx, i)
	}
	if len(msgs) == 0 {
		return out
	}
	c, err := s.client()
	if err != nil {
		for _, i := range idx {
			out[i].Err = err
		}
		return out
	}
	start := time.Now()
	sendErr := c.DialAndSendWithContext(ctx, msgs...)
	accepted := 0
	for j, msg := range msgs {
		i := idx[j]
		switch {
		case msg.IsDelivered():
			accepted++
		case msg.SendError() != nil:
			out[i].Err = fmt.Errorf("mail: send %s via %s: %w", m.Kind, s.addr(), msg.SendError())
		case sendErr != nil:
			// Not tried: the connection failed before this copy's turn.
			out[i].Err = fmt.Errorf("mail: send %s via %s: %w", m.Kind, s.addr(), sendErr)
		default:
			out[i].Err = fmt.Errorf("mail: send %s via %s: not delivered", m.Kind, s.addr())
		}
	}
	s.logger.Info("mail sent", "kind", m.Kind, "person", m.PersonID, "recipients", len(m.To), "accepted", accepted,
		"duration", time.Since(start).Round(time.Millisecond))
	return out
}

// Summary says what a send error was without saying to whom: the SMTP
// reply's codes ("SMTP 451 4.3.0"), or that no reply came. go-mail's error
// text names the recipients, which must not reach logs or Temporal's
// history (a referrer may be a relative of the person).
func Summary(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrInvalidMessage) {
		return "invalid message"
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code != 0 {
			return strings.TrimSpace(fmt.Sprintf("SMTP %d %s (%s)", code, se.EnhancedStatusCode(), se.Reason))
		}
		return fmt.Sprintf("no SMTP reply (%s)", se.Reason)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timed out"
	}
	return "could not reach the mail server"
}

// IsPermanent reports whether err is a rejection that sending the same
// message again will not cure: the server answered 5xx to a recipient or to
// the message's content (a user unknown, a message refused), or the message
// was invalid. Everything else is transient, and the caller retries:
// 4xx replies; failures to connect, start TLS or authenticate; a 5xx to MAIL
// FROM (it refuses our sender, so every message alike); and 530 or 5.7.x
// (authentication required, relaying denied: security policy). Those are
// about the server or our configuration, and the message should go once an
// operator has fixed them, not be dropped.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		code := se.ErrorCode() // 0 when the failure was not an SMTP reply (a reset connection)
		return code >= 500 && code < 600 && code != 530 && !strings.HasPrefix(se.EnhancedStatusCode(), "5.7.")
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		return true
	}
	return false
}
