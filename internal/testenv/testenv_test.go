package testenv_test

import (
	"context"
	"fmt"
	"net/smtp"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Each parallel test gets its own migrated database: what one writes, the
// others do not see.
func TestDBIsFreshPerTest(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s := testenv.DB(t)
			t.Logf("fresh database in %v", time.Since(start))
			ctx := context.Background()
			users, err := s.ListUsers(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 0 {
				t.Fatalf("fresh database already has users: %v", users)
			}
			if _, err := s.UpsertUser(ctx, store.User{Email: fmt.Sprintf("u%d@example.org", i), Name: "U", Role: store.RoleAuditor}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTemporalIsHealthy(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := testenv.Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Temporal up and healthy in %v", time.Since(start))
}

func TestSMTPRecords(t *testing.T) {
	t.Parallel()
	c := testenv.SMTP(t)
	if err := smtp.SendMail(c.Addr(), nil, "dsr@localhost", []string{"x@example.org"}, []byte("Subject: s\r\n\r\nb\r\n")); err != nil {
		t.Fatal(err)
	}
	if ms := c.Messages(); len(ms) != 1 || ms[0].To[0] != "x@example.org" {
		t.Fatalf("Messages() = %+v", ms)
	}
}
