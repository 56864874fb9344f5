// Package config reads the DSR's configuration from the environment once,
// validates it, and hands it down as a value. No other package reads the
// environment.
package config

import (
	"encoding/json"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bsw-dsr/dsr/register"
)

// TemporalServer is where dsr temporal-server keeps its state and listens.
type TemporalServer struct {
	DatabaseURL string
	Listen      string
}

// Timing is the planner's configuration; it lives in the domain package.
type Timing = register.Timing

// SMTP is the outgoing mail server. Host empty means "capture locally" in dev.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string // none, starttls, tls
}

// Config is the whole configuration.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	// TemporalTLS is how to reach a Temporal that needs TLS, mTLS or an
	// API key (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA,
	// TEMPORAL_API_KEY).
	TemporalTLS    TemporalTLS
	HTTPAddr       string
	BaseURL        string
	SMTP           SMTP
	MailFrom       string
	Timing         Timing
	DigestSchedule string
	SuppressBelow  int
	// PanelCapacity is how many people the default meeting series (the
	// one DSR_PANEL_SCHEDULE describes) can discuss (DSR_PANEL_CAPACITY).
	PanelCapacity int
	// AgendaLead is how long before each meeting its agenda and
	// invitation go out (DSR_AGENDA_LEAD).
	AgendaLead time.Duration
	// RiskTool is the area's risk tool (DSR_RISK_TOOL, a JSON file; the
	// four key questions when unset).
	RiskTool register.RiskTool
	// NoticeStuckAfter is how long a notice may wait to be sent before it
	// is shown as stuck on the record and in /readyz (DSR_NOTICE_STUCK_AFTER).
	NoticeStuckAfter time.Duration
	// Localities is the area's list (DSR_LOCALITIES, names separated by
	// ";"): a referral's locality must be one of them, and reports show
	// any other recorded locality as "Other".
	Localities register.Localities
	// TrustedProxies are the reverse proxies (DSR_TRUSTED_PROXIES, CIDRs
	// separated by commas) whose X-Forwarded-For names the client; from
	// anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// AllowHTTP lets dsr api serve a DSR_BASE_URL of http:// (DSR_ALLOW_HTTP=1):
	// the session cookie's Secure flag and HSTS follow the base URL, so
	// production over plain HTTP must be chosen, not fallen into.
	AllowHTTP  bool
	PayloadKey string // base64 AES-256 key(s) for the payload codec; see codec package
	OIDC       OIDC
	// TemporalUIOrigin is the one browser origin allowed to call the codec
	// endpoint across origins (DSR_TEMPORAL_UI_ORIGIN).
	TemporalUIOrigin string
	// DevSignIn turns on the local sign-in page that lists the users and
	// signs in as any of them without a password. Never read from the
	// environment: only the dev command sets it, and only when no OIDC
	// issuer is configured.
	DevSignIn bool
	// RetainClosedFor is how long a discharged or declined episode is kept
	// after it closed before the daily retention run deletes it
	// (DSR_RETAIN_CLOSED_FOR); 0 means never.
	RetainClosedFor time.Duration
	// Worker tunes the Temporal worker (DSR_WORKER_*); zero values mean
	// the register's measured defaults (worker package).
	Worker WorkerTuning
	// DevTemporalConfig overrides the embedded server's dynamic
	// configuration in dsr dev (DSR_DEV_TEMPORAL_CONFIG,
	// "key=json-value;..."): for measuring a setting, as the Temporal
	// CLI's --dynamic-config-value does.
	DevTemporalConfig map[string]any
	// MonthlyReturnTo, when set, is extra addresses (commas) the monthly
	// return's mail goes to besides the users with the commissioner role
	// (DSR_MONTHLY_RETURN_TO).
	MonthlyReturnTo string
	// MetricsAddr is where /metrics is served (DSR_METRICS_ADDR): empty
	// means off in production and 127.0.0.1:9090 in dev; "off" means off.
	MetricsAddr string
	// Pprof adds Go's /debug/pprof/ to the metrics listener (DSR_PPROF=1),
	// for a heap profile of a large register (dsr bench takes one). Off by
	// default: a CPU profile on demand is load nobody asked for.
	Pprof bool
	// TemporalServer configures dsr temporal-server: its PostgreSQL
	// (DSR_TEMPORAL_DATABASE_URL) and its frontend's listen address
	// (DSR_TEMPORAL_LISTEN).
	TemporalServer TemporalServer
}

// WorkerTuning is the Temporal worker's concurrency.
type WorkerTuning struct {
	WorkflowPollers int           // DSR_WORKER_WORKFLOW_POLLERS
	ActivityPollers int           // DSR_WORKER_ACTIVITY_POLLERS
	StickyTimeout   time.Duration // DSR_WORKER_STICKY_TIMEOUT
	// WorkflowTasks and Activities bound the tasks run at once
	// (DSR_WORKER_WORKFLOW_TASKS, DSR_WORKER_ACTIVITIES).
	WorkflowTasks int
	Activities    int
	// StickyCache is how many workflows the worker keeps in memory between
	// tasks (DSR_WORKER_STICKY_CACHE; the SDK's default is 10,000): the
	// main cost in memory of a large register.
	StickyCache int
}

// TemporalTLS holds PEM file paths and an API key; all empty means a plain
// connection (dev, and a Temporal on a private network).
type TemporalTLS struct {
	Cert, Key, CA string
	APIKey        string
}

// OIDC configures staff sign-in for the web pages. Issuer empty means off.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RoleClaim    string
	// RedirectURL is the callback registered with the provider
	// (DSR_OIDC_REDIRECT_URL; default DSR_BASE_URL + /auth/callback).
	RedirectURL string
	// RoleMap maps values of the role claim to register roles
	// (DSR_OIDC_ROLE_MAP, "claim-value=role,..."). Each role's own name
	// always maps to itself.
	RoleMap map[string]string
}

// FieldError names the variable at fault.
type FieldError struct {
	Var     string
	Problem string
}

func (e *FieldError) Error() string { return e.Var + ": " + e.Problem }

// Defaults as CONTRACT.md gives them.
var defaultReview = map[string]string{"RED": "7d", "AMBER": "28d", "GREEN": "91d", "BLUE": "28d"}

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests) and validates it. The first problem found is returned, naming the
// variable.
func Load(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		DatabaseURL:       get("DATABASE_URL", ""),
		TemporalAddress:   get("TEMPORAL_ADDRESS", ""),
		TemporalNamespace: get("TEMPORAL_NAMESPACE", "default"),
		HTTPAddr:          get("DSR_HTTP_ADDR", "127.0.0.1:8080"),
		MailFrom:          get("DSR_MAIL_FROM", "dsr@localhost"),
		DigestSchedule:    get("DSR_DIGEST_SCHEDULE", "0 8 * * MON"),
		PayloadKey:        get("DSR_PAYLOAD_KEY", ""),
		SMTP: SMTP{
			Host:     get("DSR_SMTP_HOST", ""),
			Username: get("DSR_SMTP_USERNAME", ""),
			Password: getenv("DSR_SMTP_PASSWORD"),
			TLS:      strings.ToLower(get("DSR_SMTP_TLS", "")),
		},
		OIDC: OIDC{
			Issuer:       get("DSR_OIDC_ISSUER", ""),
			ClientID:     get("DSR_OIDC_CLIENT_ID", ""),
			ClientSecret: getenv("DSR_OIDC_CLIENT_SECRET"),
			RoleClaim:    get("DSR_OIDC_ROLE_CLAIM", "roles"),
		},
	}
	c.TemporalTLS = TemporalTLS{Cert: get("TEMPORAL_TLS_CERT", ""), Key: get("TEMPORAL_TLS_KEY", ""), CA: get("TEMPORAL_TLS_CA", ""),
		APIKey: get("TEMPORAL_API_KEY", "")}
	if (c.TemporalTLS.Cert == "") != (c.TemporalTLS.Key == "") {
		v, other := "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"
		if c.TemporalTLS.Cert == "" {
			v, other = other, v
		}
		return Config{}, &FieldError{v, "needs " + other + " too (a client certificate and its key go together)"}
	}
	c.MetricsAddr = get("DSR_METRICS_ADDR", "")
	c.TemporalServer = TemporalServer{
		DatabaseURL: get("DSR_TEMPORAL_DATABASE_URL", ""),
		Listen:      get("DSR_TEMPORAL_LISTEN", "127.0.0.1:7233"),
	}
	if _, port, err := net.SplitHostPort(c.TemporalServer.Listen); err != nil || port == "" || port == "0" {
		return Config{}, &FieldError{"DSR_TEMPORAL_LISTEN", "must be host:port with a port (e.g. 0.0.0.0:7233)"}
	}
	if c.MetricsAddr != "" && c.MetricsAddr != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return Config{}, &FieldError{"DSR_METRICS_ADDR", "must be host:port (e.g. 127.0.0.1:9090, or :9090 on every interface) or off"}
		}
	}
	c.BaseURL = strings.TrimRight(get("DSR_BASE_URL", "http://"+c.HTTPAddr), "/")
	c.TemporalUIOrigin = strings.TrimRight(get("DSR_TEMPORAL_UI_ORIGIN", "http://localhost:8233"), "/")
	c.OIDC.RedirectURL = get("DSR_OIDC_REDIRECT_URL", c.BaseURL+"/auth/callback")

	var err error
	c.Timing.ReviewEvery = map[register.Rating]time.Duration{}
	for _, r := range []string{"RED", "AMBER", "GREEN", "BLUE"} {
		k := "DSR_REVIEW_EVERY_" + r
		if c.Timing.ReviewEvery[register.Rating(strings.ToLower(r))], err = duration(k, get(k, defaultReview[r])); err != nil {
			return Config{}, err
		}
	}
	if c.Timing.ReminderLead, err = duration("DSR_REMINDER_LEAD", get("DSR_REMINDER_LEAD", "3d")); err != nil {
		return Config{}, err
	}
	if c.Timing.ReminderWindow, err = register.ParseWindow(get("DSR_REMINDER_WINDOW", "")); err != nil {
		return Config{}, &FieldError{"DSR_REMINDER_WINDOW", err.Error()}
	}
	if c.Timing.EscalateAfter, err = duration("DSR_ESCALATE_AFTER", get("DSR_ESCALATE_AFTER", "2d")); err != nil {
		return Config{}, err
	}
	if c.Timing.TriageWithin, err = duration("DSR_TRIAGE_WITHIN", get("DSR_TRIAGE_WITHIN", "5d")); err != nil {
		return Config{}, err
	}
	if c.Timing.RedAfterHospital, err = duration("DSR_RED_AFTER_HOSPITAL", get("DSR_RED_AFTER_HOSPITAL", "14d")); err != nil {
		return Config{}, err
	}
	if c.Timing.MaxEscalations, err = positiveInt("DSR_MAX_ESCALATIONS", get("DSR_MAX_ESCALATIONS", "3")); err != nil {
		return Config{}, err
	}
	if c.NoticeStuckAfter, err = duration("DSR_NOTICE_STUCK_AFTER", get("DSR_NOTICE_STUCK_AFTER", "1h")); err != nil {
		return Config{}, err
	}
	if c.SuppressBelow, err = positiveInt("DSR_SUPPRESS_BELOW", get("DSR_SUPPRESS_BELOW", "5")); err != nil {
		return Config{}, err
	}
	if c.RetainClosedFor, err = retention(get("DSR_RETAIN_CLOSED_FOR", DefaultRetainClosedFor)); err != nil {
		return Config{}, err
	}
	if c.Timing.CETR, err = cetrTiming(get); err != nil {
		return Config{}, err
	}
	c.MonthlyReturnTo = get("DSR_MONTHLY_RETURN_TO", "")
	if c.MonthlyReturnTo != "" {
		for _, a := range strings.Split(c.MonthlyReturnTo, ",") {
			if _, err := mail.ParseAddress(strings.TrimSpace(a)); err != nil {
				return Config{}, &FieldError{"DSR_MONTHLY_RETURN_TO", fmt.Sprintf("%q is not an email address", strings.TrimSpace(a))}
			}
		}
	}
	if c.Localities, err = register.ParseLocalities(getenv("DSR_LOCALITIES")); err != nil {
		return Config{}, &FieldError{"DSR_LOCALITIES", err.Error()}
	}
	for _, f := range []struct {
		name string
		to   *bool
	}{{"DSR_ALLOW_HTTP", &c.AllowHTTP}, {"DSR_PPROF", &c.Pprof}} {
		switch v := get(f.name, "0"); v {
		case "1", "true":
			*f.to = true
		case "0", "false":
		default:
			return Config{}, &FieldError{f.name, fmt.Sprintf("%q is not 1 or 0", v)}
		}
	}
	if c.TrustedProxies, err = prefixes(getenv("DSR_TRUSTED_PROXIES")); err != nil {
		return Config{}, &FieldError{"DSR_TRUSTED_PROXIES", err.Error()}
	}
	if c.Worker, err = workerTuning(get); err != nil {
		return Config{}, err
	}
	if c.DevTemporalConfig, err = dynamicConfig(get("DSR_DEV_TEMPORAL_CONFIG", "")); err != nil {
		return Config{}, &FieldError{"DSR_DEV_TEMPORAL_CONFIG", err.Error()}
	}
	c.Timing.PanelSchedule = get("DSR_PANEL_SCHEDULE", "")
	if c.Timing.PanelSchedule != "" {
		if _, err := ParseCron(c.Timing.PanelSchedule); err != nil {
			return Config{}, &FieldError{"DSR_PANEL_SCHEDULE", err.Error()}
		}
	}
	if c.PanelCapacity, err = positiveInt("DSR_PANEL_CAPACITY", get("DSR_PANEL_CAPACITY", "12")); err != nil {
		return Config{}, err
	}
	if c.PanelCapacity < 1 || c.PanelCapacity > 200 {
		return Config{}, &FieldError{"DSR_PANEL_CAPACITY", "must be between 1 and 200 people"}
	}
	if c.AgendaLead, err = duration("DSR_AGENDA_LEAD", get("DSR_AGENDA_LEAD", "5d")); err != nil {
		return Config{}, err
	}
	c.RiskTool = register.DefaultRiskTool
	if path := get("DSR_RISK_TOOL", ""); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return Config{}, &FieldError{"DSR_RISK_TOOL", err.Error()}
		}
		c.RiskTool, err = register.LoadRiskTool(f)
		f.Close()
		if err != nil {
			return Config{}, &FieldError{"DSR_RISK_TOOL", err.Error()}
		}
	}
	if _, err := ParseCron(c.DigestSchedule); err != nil {
		return Config{}, &FieldError{"DSR_DIGEST_SCHEDULE", err.Error()}
	}

	switch c.SMTP.TLS {
	case "":
		c.SMTP.TLS = "none"
	case "none", "starttls", "tls":
	default:
		return Config{}, &FieldError{"DSR_SMTP_TLS", fmt.Sprintf("%q is not one of none, starttls, tls", c.SMTP.TLS)}
	}
	defPort := map[string]string{"none": "25", "starttls": "587", "tls": "465"}[c.SMTP.TLS]
	if c.SMTP.Port, err = positiveInt("DSR_SMTP_PORT", get("DSR_SMTP_PORT", defPort)); err != nil {
		return Config{}, err
	}
	if c.SMTP.Port > 65535 {
		return Config{}, &FieldError{"DSR_SMTP_PORT", "must be a TCP port (1 to 65535)"}
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return Config{}, &FieldError{"DSR_MAIL_FROM", "not an email address"}
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return Config{}, &FieldError{"DSR_BASE_URL", "must start with http:// or https://"}
	}
	if c.OIDC.RoleMap, err = roleMap(get("DSR_OIDC_ROLE_MAP", "")); err != nil {
		return Config{}, err
	}
	if c.OIDC.Issuer != "" && c.OIDC.ClientID == "" {
		return Config{}, &FieldError{"DSR_OIDC_CLIENT_ID", "required when DSR_OIDC_ISSUER is set"}
	}
	return c, nil
}

// ParsePrefixes reads "10.0.0.0/8, 192.0.2.7, 2001:db8::/32" (the form of
// DSR_TRUSTED_PROXIES): CIDRs, or addresses meaning themselves alone.
func ParsePrefixes(spec string) ([]netip.Prefix, error) { return prefixes(spec) }

func prefixes(spec string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a CIDR such as 10.0.0.0/8", part)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// roles are the register's roles (store.Roles; config cannot import store).
var roles = []string{"coordinator", "professional", "manager", "commissioner", "auditor"}

// roleMap reads "claim-value=role,claim-value=role". Each role's name maps
// to itself unless the map says otherwise.
func roleMap(spec string) (map[string]string, error) {
	m := map[string]string{}
	for _, r := range roles {
		m[r] = r
	}
	if spec == "" {
		return m, nil
	}
	for _, pair := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || !slices.Contains(roles, v) {
			return nil, &FieldError{"DSR_OIDC_ROLE_MAP", fmt.Sprintf("%q is not claim-value=role with a role one of %s", pair, strings.Join(roles, ", "))}
		}
		m[k] = v
	}
	return m, nil
}

// ParseCron parses a robfig/cron expression: five fields, or a descriptor
// such as @every 1h or @weekly.
func ParseCron(spec string) (cron.Schedule, error) { return register.ParseCron(spec) }

// ParseDuration reads a Go duration or a whole number of days written "Nd".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 36h or 7d", s)
	}
	return d, nil
}

func duration(name, v string) (time.Duration, error) {
	d, err := ParseDuration(v)
	if err != nil {
		return 0, &FieldError{name, err.Error()}
	}
	if d <= 0 {
		return 0, &FieldError{name, "must be greater than zero"}
	}
	return d, nil
}

// DefaultRetainClosedFor is six years (with two leap days), as one area
// keeps closed records.
const DefaultRetainClosedFor = "2192d"

// retention reads DSR_RETAIN_CLOSED_FOR: a duration, or 0 for off.
func retention(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, &FieldError{"DSR_RETAIN_CLOSED_FOR", err.Error()}
	}
	if d < 0 {
		return 0, &FieldError{"DSR_RETAIN_CLOSED_FOR", "must be 0 (keep closed records) or a positive duration"}
	}
	return d, nil
}

func positiveInt(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &FieldError{name, fmt.Sprintf("%q is not a whole number", v)}
	}
	if n <= 0 {
		return 0, &FieldError{name, "must be greater than zero"}
	}
	return n, nil
}

// RequireProduction checks what the worker command needs that dev
// provides itself.
func (c Config) RequireProduction() error {
	if err := c.requireStores(); err != nil {
		return err
	}
	if c.SMTP.Host == "" {
		return &FieldError{"DSR_SMTP_HOST", "required"}
	}
	return nil
}

// RequireAPI checks what the api command needs that dev provides itself:
// the API sends no mail, so it needs no SMTP server. Its DSR_BASE_URL must
// be https:// unless DSR_ALLOW_HTTP=1: the session cookie is marked Secure,
// and HSTS sent, only for an https:// base URL.
func (c Config) RequireAPI() error {
	if err := c.requireStores(); err != nil {
		return err
	}
	if strings.HasPrefix(c.BaseURL, "http://") && !c.AllowHTTP {
		return &FieldError{"DSR_BASE_URL", "must be https:// (the address staff use, behind TLS): over http:// session cookies are not Secure and HSTS is off; set DSR_ALLOW_HTTP=1 to serve plain HTTP anyway"}
	}
	return nil
}

// requireStores checks what the api and worker commands need that dev
// provides itself: the database, Temporal and the payload key.
func (c Config) requireStores() error {
	if c.DatabaseURL == "" {
		return &FieldError{"DATABASE_URL", "required"}
	}
	if c.TemporalAddress == "" {
		return &FieldError{"TEMPORAL_ADDRESS", "required"}
	}
	if c.PayloadKey == "" {
		return &FieldError{"DSR_PAYLOAD_KEY", "required (every Temporal client encrypts payloads; generate one with: dsr keygen)"}
	}
	return nil
}

// cetrTiming reads the C(E)TR, keyworker, transition and consent clocks'
// settings; each default is register.DefaultCETRTiming's.
func cetrTiming(get func(k, def string) string) (register.CETRTiming, error) {
	c := register.DefaultCETRTiming()
	days := func(d time.Duration) string { return strconv.Itoa(int(d/(24*time.Hour))) + "d" }
	durations := []struct {
		name string
		to   *time.Duration
	}{
		{"DSR_CETR_COMMUNITY_WITHIN", &c.CommunityWithin},
		{"DSR_CETR_POST_ADMISSION_ADULT", &c.PostAdmissionAdult},
		{"DSR_CETR_POST_ADMISSION_CHILD", &c.PostAdmissionChild},
		{"DSR_TRANSITION_LEAD", &c.TransitionLead},
		{"DSR_CONSENT_REVIEW_EVERY", &c.ConsentReviewEvery},
	}
	for _, d := range durations {
		v, err := duration(d.name, get(d.name, days(*d.to)))
		if err != nil {
			return c, err
		}
		*d.to = v
	}
	ints := []struct {
		name string
		to   *int
	}{
		{"DSR_CETR_INTERIM_WORKDAYS", &c.InterimWorkdays},
		{"DSR_CETR_INPATIENT_ADULT_MONTHS", &c.InpatientAdultMonths},
		{"DSR_CETR_INPATIENT_SECURE_MONTHS", &c.InpatientSecureMonths},
		{"DSR_CETR_INPATIENT_CHILD_MONTHS", &c.InpatientChildMonths},
		{"DSR_CETR_LOOKBACK_MONTHS", &c.LookBackMonths},
		{"DSR_KEYWORKER_MAX_AGE", &c.KeyworkerMaxAge},
	}
	for _, n := range ints {
		v, err := positiveInt(n.name, get(n.name, strconv.Itoa(*n.to)))
		if err != nil {
			return c, err
		}
		*n.to = v
	}
	if c.KeyworkerMaxAge < 18 {
		return c, &FieldError{"DSR_KEYWORKER_MAX_AGE", "must be 18 or more (the keyworker age is counted from the 18th birthday)"}
	}
	var err error
	if c.CommunityRatings, err = ratings("DSR_CETR_RATINGS", get("DSR_CETR_RATINGS", "red")); err != nil {
		return c, err
	}
	if slices.Contains(c.CommunityRatings, register.Blue) {
		return c, &FieldError{"DSR_CETR_RATINGS", "blue is an admission: its reviews are post-admission and inpatient"}
	}
	if c.KeyworkerRatings, err = ratings("DSR_KEYWORKER_RATINGS", get("DSR_KEYWORKER_RATINGS", "red,amber,blue")); err != nil {
		return c, err
	}
	return c, nil
}

// ratings reads "red,amber": ratings separated by commas.
func ratings(name, v string) ([]register.Rating, error) {
	var out []register.Rating
	for _, p := range strings.Split(v, ",") {
		r := register.Rating(strings.ToLower(strings.TrimSpace(p)))
		if !r.Valid() {
			return nil, &FieldError{name, fmt.Sprintf("%q is not one of red, amber, green, blue", strings.TrimSpace(p))}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func workerTuning(get func(k, def string) string) (WorkerTuning, error) {
	var w WorkerTuning
	ints := []struct {
		name string
		to   *int
	}{
		{"DSR_WORKER_WORKFLOW_POLLERS", &w.WorkflowPollers},
		{"DSR_WORKER_ACTIVITY_POLLERS", &w.ActivityPollers},
		{"DSR_WORKER_WORKFLOW_TASKS", &w.WorkflowTasks},
		{"DSR_WORKER_ACTIVITIES", &w.Activities},
		{"DSR_WORKER_STICKY_CACHE", &w.StickyCache},
	}
	for _, f := range ints {
		v := get(f.name, "")
		if v == "" {
			continue
		}
		n, err := positiveInt(f.name, v)
		if err != nil {
			return w, err
		}
		*f.to = n
	}
	if v := get("DSR_WORKER_STICKY_TIMEOUT", ""); v != "" {
		d, err := duration("DSR_WORKER_STICKY_TIMEOUT", v)
		if err != nil {
			return w, err
		}
		w.StickyTimeout = d
	}
	return w, nil
}

// dynamicConfig reads "key=json-value;..." into a map.
func dynamicConfig(v string) (map[string]any, error) {
	if v == "" {
		return nil, nil
	}
	out := map[string]any{}
	for _, kv := range strings.Split(v, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		var x any
		if err := json.Unmarshal([]byte(val), &x); err != nil {
			return nil, fmt.Errorf("%s: the value %q is not JSON", k, val)
		}
		// JSON numbers decode as float64; the server's integer settings
		// want ints.
		if f, isNum := x.(float64); isNum && f == float64(int(f)) {
			x = int(f)
		}
		out[strings.TrimSpace(k)] = x
	}
	return out, nil
}
