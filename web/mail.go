package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/register"
)

// Mail is one message captured by dsr dev's local mail server.
type Mail struct {
	Received time.Time
	From     string
	To       []string
	Subject  string
	Kind     string // X-DSR-Kind
	Person   string // X-DSR-Person
	Text     string // the plain-text part
}

type mailPage struct {
	Messages []mailRow
	One      *mailRow
}

type mailRow struct {
	N int
	Mail
}

// mailList shows the mail dsr dev has captured, newest first. Like the
// mail itself it holds no names or NHS numbers, only links to records.
func (s *server) mailList(w http.ResponseWriter, r *http.Request) {
	msgs := s.d.Mailbox()
	p := mailPage{}
	for i, m := range msgs {
		p.Messages = append(p.Messages, mailRow{N: i + 1, Mail: m})
	}
	slices.Reverse(p.Messages)
	s.render(w, r, http.StatusOK, "mail", s.newView(r, "Mail sent", "mail", p))
}

func (s *server) mailOne(w http.ResponseWriter, r *http.Request) {
	msgs := s.d.Mailbox()
	n, err := strconv.Atoi(chi.URLParam(r, "n"))
	if err != nil || n < 1 || n > len(msgs) {
		s.renderError(w, r, register.NotFound("message"))
		return
	}
	row := mailRow{N: n, Mail: msgs[n-1]}
	s.render(w, r, http.StatusOK, "mail", s.newView(r, "Mail: "+row.Subject, "mail", mailPage{One: &row}))
}
