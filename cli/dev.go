//go:build !lean

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/bsw-dsr/dsr/api"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/web"
	"github.com/bsw-dsr/dsr/worker"
)

// stopper stops what dev started, last started first.
type stopper struct {
	logger *slog.Logger
	steps  []stopStep
}

type stopStep struct {
	name string
	fn   func() error
}

func (s *stopper) push(name string, fn func() error) { s.steps = append(s.steps, stopStep{name, fn}) }

func (s *stopper) stop() {
	for i := len(s.steps) - 1; i >= 0; i-- {
		st := s.steps[i]
		t := time.Now()
		if err := st.fn(); err != nil {
			s.logger.Warn("stopping "+st.name, "error", err)
			continue
		}
		s.logger.Info("stopped "+st.name, "took", time.Since(t).Round(time.Millisecond))
	}
}

// notProductionFlag lets dsr dev use a DATABASE_URL that holds data it did
// not make (see store.ClaimDevDatabase).
const notProductionFlag = "--i-know-this-is-not-production"

// devMemoryLimit is dsr dev's soft memory limit (runtime/debug): it keeps
// the resident set of a large register under 1 GiB (dsr bench measures it
// at 100,000 people).
const devMemoryLimit = 896 << 20

// devStickyCache is how many workflows dsr dev keeps in memory between
// their tasks (DSR_WORKER_STICKY_CACHE overrides it): a person's workflow
// sleeps for days, each cached one costs about 70 KiB, and the SDK's
// 10,000 were most of a large register's resident set. One that is not
// cached is replayed from its short history (continue-as-new keeps it
// short) when it next wakes, in about a millisecond.
const devStickyCache = 4096

func runDev(ctx context.Context, env Env, cfg config.Config, args []string) error {
	force, demo := false, false
	for len(args) > 0 && (args[0] == notProductionFlag || args[0] == demoFlag) {
		force = force || args[0] == notProductionFlag
		demo = demo || args[0] == demoFlag
		args = args[1:]
	}
	if err := noArgs("dev", args); err != nil {
		return err
	}
	start := time.Now()
	if env.Getenv("GOMEMLIMIT") == "" {
		// One process holds the Temporal server, the worker's cache and the
		// API: without a limit the heap grows to twice what is live before
		// each collection. GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(devMemoryLimit)
	}
	state := filepath.Join(env.Dir, stateDirName)
	lock, err := lockState(state)
	if err != nil {
		return fmt.Errorf("%s: %w", state, err)
	}
	defer lock.Close()

	logFile, err := os.OpenFile(filepath.Join(state, "dsr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close()
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	logger := slog.New(slog.NewMultiHandler(slog.NewTextHandler(env.Stderr, opts), slog.NewJSONHandler(logFile, opts)))

	stack := &stopper{logger: logger}
	err = startDev(ctx, env, cfg, state, logger, stack, start, force, demo)
	t := time.Now()
	stack.stop()
	logger.Info("dsr dev stopped", "shutdown_took", time.Since(t).Round(time.Millisecond))
	if err != nil && ctx.Err() != nil {
		// Ctrl-C while starting: a clean stop, not a failure.
		logger.Info("stopped while starting", "error", err)
		return nil
	}
	return err
}

// devParts is what dev started, for the banner.
type devParts struct {
	url       string
	pg        *devstack.Postgres
	temporal  *devstack.Temporal
	cfg       config.Config
	capture   *devstack.SMTPCapture
	metrics   string // the /metrics address; empty: off
	ui        string // the Temporal UI's URL; empty: none
	users     []demoUser
	stateDir  string
	schemaVer int32
}

func startDev(ctx context.Context, env Env, cfg config.Config, state string, logger *slog.Logger, stack *stopper, start time.Time, force, demo bool) error {
	p := devParts{stateDir: state}

	// Listen first: a port in use fails in a moment, not after starting all.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (DSR_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	stack.push("listener", func() error { ln.Close(); return nil })
	p.url = "http://" + ln.Addr().String()

	metricsAddr := cfg.MetricsAddr
	if metricsAddr == "" {
		metricsAddr = devMetricsAddr
	}
	pm, err := startMetrics(ctx, metricsAddr, cfg.MetricsAddr == "", cfg.Pprof, logger)
	if err != nil {
		return err
	}
	stack.push("metrics", pm.stop)
	p.metrics = pm.addr

	if cfg.PayloadKey == "" {
		if cfg.PayloadKey, err = devPayloadKey(state); err != nil {
			return err
		}
	}
	if cfg.DatabaseURL == "" {
		pg, err := devstack.StartPostgres(ctx, filepath.Join(state, "pg"))
		if err != nil {
			return err
		}
		// Restarted if it dies: dev behaves as production does when its
		// database fails over, answering 503 until it is back.
		sup := supervisePostgres(pg, logger)
		stack.push("PostgreSQL", sup.Stop)
		p.pg, cfg.DatabaseURL = pg, pg.URL()
		logger.Info("PostgreSQL ready", "dir", filepath.Join(state, "pg"), "port", pg.Port())
		force = true // dev's own cluster: always dev's, marked on first use
	}
	// A database dev did not make may be a real register: refuse it unless
	// it is empty (then mark it as dev's) or the flag says so.
	if err := store.ClaimDevDatabase(ctx, cfg.DatabaseURL, force); err != nil {
		return err
	}
	if p.schemaVer, err = store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	stack.push("database pool", func() error { st.Close(); return nil })
	pm.pool(st)

	if cfg.Worker.StickyCache == 0 {
		cfg.Worker.StickyCache = devStickyCache
	}
	worker.SizeCache(cfg.Worker) // before the embedded server's own SDK workers
	if cfg.TemporalAddress == "" {
		srv, err := devstack.StartTemporal(devstack.TemporalOptions{
			DatabaseFile:  filepath.Join(state, "temporal.db"),
			Namespace:     cfg.TemporalNamespace,
			FrontendPort:  usualTemporalPort(stack), // for the Temporal CLI and UI
			LogFile:       filepath.Join(state, "temporal.log"),
			DynamicConfig: cfg.DevTemporalConfig,
		})
		if err != nil {
			return err
		}
		stack.push("Temporal", srv.Stop)
		p.temporal, cfg.TemporalAddress = srv, srv.Address()
		addrFile := filepath.Join(state, temporalAddrFile)
		if err := writeFileAtomic(addrFile, []byte(srv.Address()+"\n")); err != nil {
			return err
		}
		stack.push("Temporal address note", func() error { return os.Remove(addrFile) })
		logger.Info("Temporal ready", "address", srv.Address(), "namespace", cfg.TemporalNamespace)

		// The UI shows the payloads decoded through our /codec, for a
		// coordinator signed in to the DSR: the codec endpoint takes the
		// session from the UI's origin, on the same host (a same-site
		// request, so the SameSite=Lax cookie goes with it).
		ui, err := devstack.StartTemporalUI(devstack.TemporalUIOptions{
			Port: usualUIPort(stack), TemporalAddress: srv.Address(), Namespace: cfg.TemporalNamespace, CodecEndpoint: p.url + "/codec",
		})
		if err != nil {
			logger.Warn("Temporal UI not started", "error", err)
		} else {
			stack.push("Temporal UI", ui.Stop)
			p.ui, cfg.TemporalUIOrigin = ui.URL(), ui.URL()
		}
	}
	tc, err := dialTemporalWith(ctx, cfg, logger, false, pm)
	if err != nil {
		return err
	}
	stack.push("Temporal client", func() error { tc.Close(); return nil })

	if cfg.SMTP.Host == "" {
		capture, err := devstack.StartSMTP(filepath.Join(state, "mail"))
		if err != nil {
			return err
		}
		stack.push("mail capture", capture.Close)
		p.capture = capture
		cfg.SMTP = config.SMTP{Host: capture.Host(), Port: capture.Port(), TLS: "none"}
	}
	mailer, err := mail.NewSMTP(cfg.SMTP, cfg.MailFrom, logger)
	if err != nil {
		return err
	}
	if p.users, err = demoUsers(ctx, st, state); err != nil {
		return err
	}
	// Dev only: the web pages offer to sign in as any user (unless an
	// identity provider is configured).
	cfg.DevSignIn = true
	p.cfg = cfg

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	pm.watchRegister(runCtx, st, logger)
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- worker.Run(runCtx, worker.Deps{Client: tc, Store: st, Mailer: mailer, Config: cfg, Logger: logger, Metrics: pm.metrics()})
	}()
	deps := api.Deps{Store: st, Temporal: tc, Config: cfg, Logger: logger, Metrics: pm.metrics()}
	if p.capture != nil {
		deps.Mailbox = mailbox(p.capture)
	}
	httpDone := make(chan error, 1)
	go func() {
		httpDone <- serveHTTP(runCtx, ln, api.New(deps), logger)
	}()
	printBanner(env.Stdout, p)
	logger.Info("dsr dev ready", "url", p.url, "took", time.Since(start).Round(time.Millisecond))
	if demo {
		// Through the API just started: it answers as soon as it serves.
		go func() {
			msg, err := loadDemo(runCtx, p.url, p.users, st, tc, cfg, logger)
			if err != nil {
				if runCtx.Err() == nil {
					logger.Error("demo register not loaded", "error", err)
				}
				return
			}
			logger.Info("demo register", "result", msg)
			fmt.Fprintf(env.Stdout, "Demo register: %s.\n", msg)
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("stopping")
	case err := <-workerDone:
		workerDone <- err
		runErr = fmt.Errorf("the worker stopped: %v", err)
	case err := <-httpDone:
		httpDone <- err
		runErr = fmt.Errorf("the HTTP server stopped: %v", err)
	}
	cancelRun()
	// HTTP first (in-flight requests finish), then the worker; the stopper
	// then takes down the client, Temporal, the pool and PostgreSQL.
	t := time.Now()
	if err := <-httpDone; err != nil {
		logger.Warn("http shutdown", "error", err)
	}
	logger.Info("stopped HTTP server", "took", time.Since(t).Round(time.Millisecond))
	t = time.Now()
	if err := <-workerDone; err != nil && ctx.Err() == nil {
		logger.Warn("worker shutdown", "error", err)
	}
	logger.Info("stopped worker", "took", time.Since(t).Round(time.Millisecond))
	return runErr
}

// portIfFree returns port when it is free on 127.0.0.1, else 0 (any).
// usualTemporalPort is 7233, Temporal's usual port, when this dsr dev can
// have it, else 0 (any free port). A lock file held for the process's life
// decides between two dsr dev starting at once, which would otherwise both
// see the port free and race to bind it (the loser's Temporal exits).
func usualTemporalPort(stack *stopper) int {
	return usualPort(stack, 7233, "Temporal")
}

// usualUIPort is usualTemporalPort for the Temporal UI's 8233: the UI
// server exits the process when it cannot bind, so the race matters more.
func usualUIPort(stack *stopper) int {
	return usualPort(stack, 8233, "Temporal UI")
}

func usualPort(stack *stopper, port int, what string) int {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("dsr-dev-temporal-%d.lock", port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return 0
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return 0
	}
	stack.push(what+" port lock", f.Close)
	return portIfFree(port)
}

func portIfFree(port int) int {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0
	}
	l.Close()
	return port
}

// demoUser is one of the users dev creates so the API can be tried at once.
type demoUser struct {
	store.User
	Token string
}

var demoPeople = []store.User{
	{Email: "coordinator@example.org", Name: "Cora Ordinator", Role: store.RoleCoordinator, Team: "BSW ICB DSR team"},
	{Email: "pat.nurse@example.org", Name: "Pat Nurse", Role: store.RoleProfessional, Team: "Wiltshire CTPLD", ManagerEmail: "manager@example.org"},
	{Email: "sam.social@example.org", Name: "Sam Social", Role: store.RoleProfessional, Team: "Swindon Borough Council", ManagerEmail: "manager@example.org"},
	{Email: "manager@example.org", Name: "Morgan Manager", Role: store.RoleManager, Team: "Wiltshire CTPLD"},
	{Email: "commissioner@example.org", Name: "Chris Commissioner", Role: store.RoleCommissioner, Team: "BSW ICB"},
	{Email: "auditor@example.org", Name: "Alex Auditor", Role: store.RoleAuditor, Team: "BSW ICB information governance"},
}

// demoUsers creates the demo users (or restores them) and returns a token
// for each: the one kept in .dsr/tokens.json while it still works, so
// tokens stay the same from one start to the next.
func demoUsers(ctx context.Context, st *store.Store, state string) ([]demoUser, error) {
	path := filepath.Join(state, "tokens.json")
	kept := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &kept) // a damaged file just means new tokens
	}
	var out []demoUser
	for _, want := range demoPeople {
		u, err := st.UpsertUser(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("demo user %s: %w", want.Email, err)
		}
		token := kept[u.Email]
		if token != "" {
			if got, err := st.UserByToken(ctx, token); err != nil || got.ID != u.ID {
				token = ""
			}
		}
		if token == "" {
			if token, err = st.NewToken(ctx, u.ID); err != nil {
				return nil, err
			}
		}
		kept[u.Email] = token
		out = append(out, demoUser{User: u, Token: token})
	}
	b, _ := json.MarshalIndent(kept, "", "  ")
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return nil, fmt.Errorf("save demo tokens: %w", err)
	}
	return out, nil
}

func printBanner(w io.Writer, p devParts) {
	rel := func(parts ...string) string { return filepath.Join(append([]string{p.stateDir}, parts...)...) }
	var b strings.Builder
	fmt.Fprintf(&b, "\nDSR is running (dev). State is kept in %s/; Ctrl-C stops everything.\n\n", p.stateDir)
	fmt.Fprintf(&b, "  Web         %s/   (sign in as any user at %s/signin)\n", p.url, p.url)
	fmt.Fprintf(&b, "  API         %s/api/v1   (health: %s/healthz, readiness: %s/readyz)\n", p.url, p.url, p.url)
	if p.pg != nil {
		fmt.Fprintf(&b, "  PostgreSQL  %s   (data in %s, schema version %d)\n", p.cfg.DatabaseURL, rel("pg"), p.schemaVer)
	} else {
		fmt.Fprintf(&b, "  PostgreSQL  DATABASE_URL (schema version %d)\n", p.schemaVer)
	}
	if p.temporal != nil {
		fmt.Fprintf(&b, "  Temporal    %s, namespace %s   (state in %s)\n", p.temporal.Address(), p.cfg.TemporalNamespace, rel("temporal.db"))
	} else {
		fmt.Fprintf(&b, "  Temporal    %s, namespace %s\n", p.cfg.TemporalAddress, p.cfg.TemporalNamespace)
	}
	if p.ui != "" {
		fmt.Fprintf(&b, "  Temporal UI %s   (payloads shown decoded once you are signed in to the DSR as a coordinator)\n", p.ui)
	}
	if p.capture != nil {
		fmt.Fprintf(&b, "  Mail        captured: read it at %s/dev/mail, or the .eml files in %s/   (SMTP on %s)\n", p.url, rel("mail"), p.capture.Addr())
	} else {
		fmt.Fprintf(&b, "  Mail        sent through %s:%d\n", p.cfg.SMTP.Host, p.cfg.SMTP.Port)
	}
	if p.metrics != "" {
		fmt.Fprintf(&b, "  Metrics     http://%s/metrics   (Prometheus; DSR_METRICS_ADDR)\n", p.metrics)
	}
	fmt.Fprintf(&b, "  Logs        %s, %s, %s\n\n", rel("dsr.log"), rel("temporal.log"), rel("pg", "postmaster.log"))
	fmt.Fprintf(&b, "Demo users and their API tokens (also in %s):\n", rel("tokens.json"))
	for _, u := range p.users {
		fmt.Fprintf(&b, "  %-13s %-26s %s\n", u.Role, u.Email, u.Token)
	}
	if len(p.users) > 0 {
		fmt.Fprintf(&b, "\nTry:  curl -H 'Authorization: Bearer %s' %s/api/v1/me\n", p.users[0].Token, p.url)
	}
	fmt.Fprintf(&b, "More users:  go run . user add --email you@example.org --name 'Your Name' --role coordinator\n\n")
	io.WriteString(w, b.String())
}

// mailbox shows the mail captured since start on the dev web pages, in
// the order received.
func mailbox(c *devstack.SMTPCapture) func() []web.Mail {
	return func() []web.Mail {
		msgs := c.Messages()
		out := make([]web.Mail, 0, len(msgs))
		for _, m := range msgs {
			out = append(out, web.Mail{
				Received: m.Received,
				From:     m.Header.Get("From"),
				To:       m.To,
				Subject:  m.Subject(),
				Kind:     m.Header.Get("X-DSR-Kind"),
				Person:   m.Header.Get("X-DSR-Person"),
				Text:     m.Text(),
			})
		}
		return out
	}
}
