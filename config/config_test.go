package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for r, want := range map[register.Rating]time.Duration{register.Red: 7 * day, register.Amber: 28 * day, register.Green: 91 * day, register.Blue: 28 * day} {
		if got := c.Timing.ReviewEvery[r]; got != want {
			t.Errorf("ReviewEvery[%s] = %v, want %v", r, got, want)
		}
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ReminderLead", c.Timing.ReminderLead, 3 * day},
		{"EscalateAfter", c.Timing.EscalateAfter, 2 * day},
		{"TriageWithin", c.Timing.TriageWithin, 5 * day},
		{"MaxEscalations", c.Timing.MaxEscalations, 3},
		{"HTTPAddr", c.HTTPAddr, "127.0.0.1:8080"},
		{"BaseURL", c.BaseURL, "http://127.0.0.1:8080"},
		{"MailFrom", c.MailFrom, "dsr@localhost"},
		{"DigestSchedule", c.DigestSchedule, "0 8 * * MON"},
		{"SuppressBelow", c.SuppressBelow, 5},
		{"RetainClosedFor", c.RetainClosedFor, 2192 * day},
		{"TemporalNamespace", c.TemporalNamespace, "default"},
		{"SMTP.TLS", c.SMTP.TLS, "none"},
		{"SMTP.Port", c.SMTP.Port, 25},
		{"PanelSchedule", c.Timing.PanelSchedule, ""},
		{"DatabaseURL", c.DatabaseURL, ""},
		{"Localities", strings.Join(c.Localities, ";"), "Bath and North East Somerset;Swindon;Wiltshire"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadGoodValues(t *testing.T) {
	c, err := Load(env(
		"DSR_REVIEW_EVERY_RED", "36h",
		"DSR_REVIEW_EVERY_GREEN", " 90d ",
		"DSR_SMTP_TLS", "STARTTLS",
		"DSR_DIGEST_SCHEDULE", "@every 1h",
		"DSR_PANEL_SCHEDULE", "0 10 * * TUE",
		"DSR_REMINDER_WINDOW", "08:00-10:30",
		"DSR_HTTP_ADDR", "0.0.0.0:9000",
		"DSR_METRICS_ADDR", ":9090",
		"DSR_BASE_URL", "https://dsr.example.nhs.uk/",
		"DSR_LOCALITIES", "Brighton, Hove; Lewes",
		"DSR_TRUSTED_PROXIES", "10.1.2.3/8, 192.0.2.7,2001:db8::/32",
	))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.TrustedProxies); got != "[10.0.0.0/8 192.0.2.7/32 2001:db8::/32]" {
		t.Errorf("TrustedProxies = %s", got)
	}
	if want := (register.Localities{"Brighton, Hove", "Lewes"}); !slices.Equal(c.Localities, want) {
		t.Errorf("Localities = %q, want %q", c.Localities, want)
	}
	if c.Timing.ReviewEvery[register.Red] != 36*time.Hour || c.Timing.ReviewEvery[register.Green] != 90*24*time.Hour {
		t.Errorf("ReviewEvery = %v", c.Timing.ReviewEvery)
	}
	if w := c.Timing.ReminderWindow; w.From != 8*time.Hour || w.To != 10*time.Hour+30*time.Minute {
		t.Errorf("ReminderWindow = %v, want 08:00-10:30", w)
	}
	if c.SMTP.TLS != "starttls" || c.SMTP.Port != 587 {
		t.Errorf("SMTP = %+v, want starttls on 587", c.SMTP)
	}
	if c.BaseURL != "https://dsr.example.nhs.uk" {
		t.Errorf("BaseURL = %q", c.BaseURL)
	}
	if c.MetricsAddr != ":9090" {
		t.Errorf("MetricsAddr = %q", c.MetricsAddr)
	}
	for v, want := range map[string]time.Duration{"0": 0, "2s": 2 * time.Second, "365d": 365 * 24 * time.Hour} {
		c, err := Load(env("DSR_RETAIN_CLOSED_FOR", v))
		if err != nil || c.RetainClosedFor != want {
			t.Errorf("DSR_RETAIN_CLOSED_FOR=%s: %v, %v; want %v", v, c.RetainClosedFor, err, want)
		}
	}
}

// Every bad value stops the program with an error naming its variable.
func TestLoadNamesTheBadVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"DSR_REVIEW_EVERY_RED", "0"},
		{"DSR_REVIEW_EVERY_RED", "abc"},
		{"DSR_REVIEW_EVERY_RED", "-1d"},
		{"DSR_REVIEW_EVERY_RED", "7x"},
		{"DSR_REVIEW_EVERY_AMBER", "0s"},
		{"DSR_REVIEW_EVERY_GREEN", "d"},
		{"DSR_REVIEW_EVERY_BLUE", "-5h"},
		{"DSR_REMINDER_LEAD", "0"},
		{"DSR_REMINDER_LEAD", "soon"},
		{"DSR_REMINDER_WINDOW", "10:00-08:00"},
		{"DSR_REMINDER_WINDOW", "08:00"},
		{"DSR_REMINDER_WINDOW", "8am-10am"},
		{"DSR_REMINDER_WINDOW", "08:00-25:00"},
		{"DSR_ESCALATE_AFTER", "-2d"},
		{"DSR_TRIAGE_WITHIN", "5 days"},
		{"DSR_RED_AFTER_HOSPITAL", "0d"},
		{"DSR_MAX_ESCALATIONS", "0"},
		{"DSR_MAX_ESCALATIONS", "three"},
		{"DSR_SUPPRESS_BELOW", "0"},
		{"DSR_SUPPRESS_BELOW", "abc"},
		{"DSR_DIGEST_SCHEDULE", "bad"},
		{"DSR_DIGEST_SCHEDULE", "61 8 * * MON"},
		{"DSR_DIGEST_SCHEDULE", "0 8 * *"},
		{"DSR_PANEL_SCHEDULE", "every tuesday"},
		{"DSR_SMTP_TLS", "x"},
		{"DSR_SMTP_TLS", "ssl"},
		{"DSR_SMTP_PORT", "abc"},
		{"DSR_SMTP_PORT", "0"},
		{"DSR_SMTP_PORT", "70000"},
		{"DSR_MAIL_FROM", "not an address"},
		{"DSR_BASE_URL", "dsr.example.org"},
		{"DSR_RETAIN_CLOSED_FOR", "-1d"},
		{"DSR_RETAIN_CLOSED_FOR", "six years"},
		{"DSR_LOCALITIES", ";"},
		{"DSR_ALLOW_HTTP", "yes"},
		{"TEMPORAL_TLS_CERT", "/etc/dsr/client.pem"},    // without its key
		{"TEMPORAL_TLS_KEY", "/etc/dsr/client-key.pem"}, // without its certificate
		{"DSR_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"DSR_TRUSTED_PROXIES", "proxy.example"},
		{"DSR_LOCALITIES", "Swindon;swindon"},
		{"DSR_WORKER_WORKFLOW_POLLERS", "0"},
		{"DSR_WORKER_ACTIVITY_POLLERS", "many"},
		{"DSR_WORKER_STICKY_TIMEOUT", "-1s"},
		{"DSR_WORKER_ACTIVITIES", "1.5"},
		{"DSR_WORKER_STICKY_CACHE", "-5"},
		{"DSR_PPROF", "on"},
		{"DSR_DEV_TEMPORAL_CONFIG", "matching.numTaskqueueReadPartitions"},
		{"DSR_DEV_TEMPORAL_CONFIG", "history.shardIOConcurrency=four"},
		{"DSR_CETR_COMMUNITY_WITHIN", "0d"},
		{"DSR_CETR_POST_ADMISSION_CHILD", "two weeks"},
		{"DSR_CETR_INTERIM_WORKDAYS", "0"},
		{"DSR_CETR_INPATIENT_SECURE_MONTHS", "x"},
		{"DSR_CETR_LOOKBACK_MONTHS", "-6"},
		{"DSR_CETR_RATINGS", "red,purple"},
		{"DSR_CETR_RATINGS", "blue"},
		{"DSR_KEYWORKER_MAX_AGE", "17"},
		{"DSR_KEYWORKER_RATINGS", "reds"},
		{"DSR_TRANSITION_LEAD", "0"},
		{"DSR_CONSENT_REVIEW_EVERY", "yearly"},
		{"DSR_MONTHLY_RETURN_TO", "ops@example.org, nope"},
		{"DSR_METRICS_ADDR", "9090"},
		{"DSR_METRICS_ADDR", "on"},
		{"DSR_TEMPORAL_LISTEN", "7233"},
		{"DSR_TEMPORAL_LISTEN", "0.0.0.0:0"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := Load(env(tc.name, tc.value))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if fe.Var != tc.name {
				t.Fatalf("error names %s, want %s (%v)", fe.Var, tc.name, err)
			}
			if !strings.HasPrefix(err.Error(), tc.name+": ") || fe.Problem == "" {
				t.Fatalf("message %q does not start with the variable and say what is wrong", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("message spans lines: %q", err)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	base := []string{"DATABASE_URL", "postgres://x/y", "TEMPORAL_ADDRESS", "t:7233", "DSR_PAYLOAD_KEY", "k", "DSR_SMTP_HOST", "mail", "DSR_BASE_URL", "https://dsr.example.org"}
	without := func(name string) func(string) string {
		var kv []string
		for i := 0; i < len(base); i += 2 {
			if base[i] != name {
				kv = append(kv, base[i], base[i+1])
			}
		}
		return env(kv...)
	}
	for _, tc := range []struct {
		missing  string
		worker   bool // RequireProduction fails
		apiFails bool // RequireAPI fails
	}{
		{"DATABASE_URL", true, true},
		{"TEMPORAL_ADDRESS", true, true},
		{"DSR_PAYLOAD_KEY", true, true},
		{"DSR_SMTP_HOST", true, false},
	} {
		c, err := Load(without(tc.missing))
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range []struct {
			name  string
			err   error
			fails bool
		}{{"RequireProduction", c.RequireProduction(), tc.worker}, {"RequireAPI", c.RequireAPI(), tc.apiFails}} {
			var fe *FieldError
			if ch.fails && (!errors.As(ch.err, &fe) || fe.Var != tc.missing) {
				t.Errorf("without %s: %s() = %v, want it named", tc.missing, ch.name, ch.err)
			}
			if !ch.fails && ch.err != nil {
				t.Errorf("without %s: %s() = %v, want nil", tc.missing, ch.name, ch.err)
			}
		}
	}
	c, _ := Load(env(base...))
	if err := c.RequireProduction(); err != nil {
		t.Errorf("with everything: %v", err)
	}
	// dsr api over plain HTTP only when asked for.
	http := append(slices.Clone(base), "DSR_BASE_URL", "http://dsr.example.org")
	c, _ = Load(env(http...))
	var fe *FieldError
	if err := c.RequireAPI(); !errors.As(err, &fe) || fe.Var != "DSR_BASE_URL" {
		t.Errorf("RequireAPI over http:// = %v, want DSR_BASE_URL named", err)
	}
	c, _ = Load(env(append(http, "DSR_ALLOW_HTTP", "1")...))
	if err := c.RequireAPI(); err != nil {
		t.Errorf("RequireAPI over http:// with DSR_ALLOW_HTTP=1: %v", err)
	}
}

func TestCETRDefaultsAndSettings(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Timing.CETR, register.DefaultCETRTiming()) {
		t.Errorf("defaults = %+v", c.Timing.CETR)
	}
	c, err = Load(env("DSR_CETR_RATINGS", "Red, amber", "DSR_CETR_COMMUNITY_WITHIN", "10s", "DSR_KEYWORKER_MAX_AGE", "24",
		"DSR_CETR_INPATIENT_CHILD_MONTHS", "2", "DSR_CONSENT_REVIEW_EVERY", "180d"))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Timing.CETR
	if !reflect.DeepEqual(got.CommunityRatings, []register.Rating{register.Red, register.Amber}) || got.CommunityWithin != 10*time.Second ||
		got.KeyworkerMaxAge != 24 || got.InpatientChildMonths != 2 || got.ConsentReviewEvery != 180*24*time.Hour {
		t.Errorf("settings = %+v", got)
	}
}

func TestWorkerTuningAndDevTemporalConfig(t *testing.T) {
	vars := map[string]string{
		"DSR_WORKER_WORKFLOW_POLLERS": "4", "DSR_WORKER_ACTIVITY_POLLERS": "3",
		"DSR_WORKER_STICKY_TIMEOUT": "45s", "DSR_WORKER_WORKFLOW_TASKS": "200", "DSR_WORKER_ACTIVITIES": "100",
		"DSR_WORKER_STICKY_CACHE": "2000", "DSR_PPROF": "1",
		"DSR_DEV_TEMPORAL_CONFIG": `matching.numTaskqueueReadPartitions=1; system.enableEagerWorkflowStart=false ;x.name="a;b"`,
	}
	c, err := Load(func(k string) string { return vars[k] })
	if err == nil {
		t.Fatal("a ';' inside a quoted value was taken as a separator and still parsed")
	}
	vars["DSR_DEV_TEMPORAL_CONFIG"] = `matching.numTaskqueueReadPartitions=1; system.enableEagerWorkflowStart=false ;x.name="ab"`
	if c, err = Load(func(k string) string { return vars[k] }); err != nil {
		t.Fatal(err)
	}
	want := WorkerTuning{WorkflowPollers: 4, ActivityPollers: 3, StickyTimeout: 45 * time.Second, WorkflowTasks: 200, Activities: 100, StickyCache: 2000}
	if c.Worker != want || !c.Pprof {
		t.Errorf("worker tuning %+v, want %+v", c.Worker, want)
	}
	dc := c.DevTemporalConfig
	if dc["matching.numTaskqueueReadPartitions"] != 1 || dc["system.enableEagerWorkflowStart"] != false || dc["x.name"] != "ab" || len(dc) != 3 {
		t.Errorf("dev temporal config %#v", dc)
	}
	if c, err = Load(func(string) string { return "" }); err != nil || c.Worker != (WorkerTuning{}) || c.DevTemporalConfig != nil {
		t.Errorf("defaults: %+v %v %v", c.Worker, c.DevTemporalConfig, err)
	}
}
