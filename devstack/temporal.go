package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// TemporalOptions configures the embedded Temporal server.
type TemporalOptions struct {
	// DatabaseFile is the SQLite file that holds all of Temporal's state. Empty
	// means in memory, which only tests should use.
	DatabaseFile string
	// Namespace is created if it does not exist.
	Namespace string
	// FrontendPort is the gRPC port on 127.0.0.1; 0 picks a free one.
	FrontendPort int
	// LogFile receives the server's own logs (warnings and errors); empty
	// means none. Temporal logs workflow IDs but never
	// payloads, and our IDs carry no personal data.
	LogFile string
	// ServerDefaults runs the server with Temporal's own defaults, not the
	// register's tuning: the bare baseline dsr bench compares against.
	ServerDefaults bool
	// DynamicConfig overrides single settings of the dynamic
	// configuration (keys as the server names them).
	DynamicConfig map[string]any
	// Postgres, when set, is a postgres:// URL: Temporal's state then goes
	// to the databases temporal and temporal_visibility on that server
	// (created and migrated on start), not to SQLite. This is the
	// standalone server of dsr temporal-server.
	Postgres string
	// BindIP is the address the frontend listens on (default 127.0.0.1;
	// 0.0.0.0 for a server other hosts reach). The other services stay on
	// loopback.
	BindIP string
	// Logger, when set, receives the server's logs instead of LogFile.
	Logger log.Logger
}

// Temporal is a running embedded Temporal server: frontend, history, matching
// and worker services in this process, persisted to SQLite.
type Temporal struct {
	server  temporal.Server
	address string
}

// Address is the frontend's host:port for client.Dial.
func (t *Temporal) Address() string { return t.address }

// Stop stops every service of the server.
func (t *Temporal) Stop() error { return t.server.Stop() }

// StartTemporal starts the embedded server and returns once its frontend
// accepts connections.
func StartTemporal(opts TemporalOptions) (*Temporal, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	ports, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	if opts.FrontendPort != 0 {
		ports[0] = opts.FrontendPort
	}
	const host = "127.0.0.1"

	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	visConf := sqlConf
	shards := int32(1)
	// Without a log file the server is silent: its start-up chatter is noise
	// in tests, and our own logs say what matters.
	var logger log.Logger = log.NewNoopLogger()
	if opts.Logger != nil {
		logger = opts.Logger
	} else if opts.LogFile != "" {
		logger = log.NewZapLogger(log.BuildZapLogger(log.Config{Level: "warn", OutputFile: opts.LogFile}))
	}
	if opts.Postgres != "" {
		if sqlConf, err = postgresSQL(opts.Postgres, TemporalDatabase); err != nil {
			return nil, fmt.Errorf("temporal: database url: %w", err)
		}
		visConf, _ = postgresSQL(opts.Postgres, TemporalVisibilityDatabase)
		if err := setupPostgres(sqlConf, "postgresql/v12/temporal", logger); err != nil {
			return nil, fmt.Errorf("temporal: %w", err)
		}
		if err := setupPostgres(visConf, "postgresql/v12/visibility", logger); err != nil {
			return nil, fmt.Errorf("temporal: %w", err)
		}
		// Fixed for the life of the cluster: never change it once set.
		shards = 4
	} else if opts.DatabaseFile == "" {
		sqlConf.ConnectAttributes["mode"] = "memory"
		sqlConf.ConnectAttributes["cache"] = "shared"
		sqlConf.DatabaseName = fmt.Sprintf("dsr-%d", ports[0])
	} else {
		sqlConf.ConnectAttributes["mode"] = "rwc"
		// WAL keeps writes durable across kill -9 without fsync on every read.
		// The plugin turns unknown attributes into PRAGMAs, so the key is
		// the pragma's own name ("_journal_mode" was silently ignored).
		sqlConf.ConnectAttributes["journal_mode"] = "wal"
		// In WAL mode, synchronous=normal still survives kill -9 (only a power
		// cut may lose the last commits), and halves the cost of each write:
		// a 10,000-row import went from 69 s to 35 s.
		sqlConf.ConnectAttributes["synchronous"] = "normal"
		sqlConf.DatabaseName = opts.DatabaseFile
		_, err := os.Stat(opts.DatabaseFile)
		fresh := os.IsNotExist(err)
		if fresh {
			if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o700); err != nil {
				return nil, fmt.Errorf("temporal: create state dir: %w", err)
			}
			if err := sqliteschema.SetupSchema(sqlConf); err != nil {
				return nil, fmt.Errorf("temporal: set up sqlite schema: %w", err)
			}
		}
		// Visibility has its own file: SQLite has one writer per file, and
		// the plugin one connection per store, so in one file every
		// visibility write (a slow one: full-text indexes) held up the
		// workflows' own writes; split, they run side by side. A state
		// directory made before the split keeps its one file.
		visFile := visibilityFile(opts.DatabaseFile)
		_, err = os.Stat(visFile)
		visExists := err == nil
		if fresh && visExists {
			// The records of a Temporal state that is gone.
			for _, f := range []string{visFile, visFile + "-wal", visFile + "-shm"} {
				if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
					return nil, fmt.Errorf("temporal: remove stale visibility file: %w", err)
				}
			}
			visExists = false
		}
		visTable := opts.DatabaseFile
		if fresh || visExists {
			visConf = cloneSQL(sqlConf)
			visConf.DatabaseName = visFile
			visTable = visFile
			if !visExists {
				if err := sqliteschema.SetupSchema(visConf); err != nil {
					return nil, fmt.Errorf("temporal: set up sqlite visibility schema: %w", err)
				}
			}
		}
		// Fewer indexes, cheaper visibility writes (visibilityIndexes).
		if _, err := trimVisibility(context.Background(), visTable); err != nil {
			return nil, fmt.Errorf("temporal: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal: namespace config: %w", err)
	}
	// Despite the package's name, this writes through the SQL plugin the
	// configuration names: PostgreSQL's too.
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("temporal: create namespace: %w", err)
	}

	frontend := fmt.Sprintf("%s:%d", host, ports[0])
	var conf config.Config
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host}
	conf.Persistence = config.Persistence{
		DefaultStore:     "sqlite-default",
		VisibilityStore:  "sqlite-default", // in memory, one database holds both
		NumHistoryShards: shards,
		DataStores:       map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}},
	}
	if visConf != sqlConf && opts.Postgres == "" {
		conf.Persistence.VisibilityStore = "sqlite-visibility"
		conf.Persistence.DataStores["sqlite-visibility"] = config.DataStore{SQL: visConf}
	}
	if opts.Postgres != "" {
		conf.Persistence.DefaultStore, conf.Persistence.VisibilityStore = "postgres-default", "postgres-visibility"
		conf.Persistence.DataStores = map[string]config.DataStore{"postgres-default": {SQL: sqlConf}, "postgres-visibility": {SQL: visConf}}
	}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	svc := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: host}}
	}
	conf.Services = map[string]config.Service{
		"frontend": svc(ports[0], ports[1]),
		"history":  svc(ports[2], ports[3]),
		"matching": svc(ports[4], ports[5]),
		"worker":   svc(ports[6], ports[7]),
	}
	conf.Services["frontend"] = func(s config.Service) config.Service {
		s.RPC.HTTPPort = ports[8]
		if opts.BindIP != "" {
			s.RPC.BindOnIP = opts.BindIP
		}
		return s
	}(conf.Services["frontend"])
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend

	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal: claim mapper: %w", err)
	}
	dyn := tuning()
	if opts.ServerDefaults {
		dyn = dynamicconfig.StaticClient{}
	}
	for k, v := range opts.DynamicConfig {
		if err := knownSetting(k); err != nil {
			return nil, fmt.Errorf("temporal: %w", err)
		}
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	// Static membership, as the Temporal CLI's dev server has: with ringpop
	// the hosts of a process killed with kill -9 stay in the SQLite file and
	// the next start waits ("Not enough hosts") until they expire.
	hostPort := func(service string) string {
		return fmt.Sprintf("%s:%d", host, conf.Services[service].RPC.GRPCPort)
	}
	staticHosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(hostPort("frontend")),
		primitives.HistoryService:  static.SingleLocalHost(hostPort("history")),
		primitives.MatchingService: static.SingleLocalHost(hostPort("matching")),
		primitives.WorkerService:   static.SingleLocalHost(hostPort("worker")),
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(&conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal: new server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("temporal: start: %w", err)
	}
	return &Temporal{server: srv, address: frontend}, nil
}

// freePorts reserves n distinct free loopback ports. They are released before
// use, so a race with another process is possible but rare on a dev machine.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tuning is the register's dynamic configuration of the embedded server
// (why each is set: DESIGN.md, "Throughput"; dsr bench measures them).
func tuning() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key():      true,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Visibility writes (SQLite, with full-text indexes) are a third of
		// the CPU in a burst of starts; throttled, they catch up afterwards.
		dynamicconfig.VisibilityPersistenceMaxWriteQPS.Key(): 50,
		// A burst of timers (every review on one panel slot) is loaded
		// whole: past the default 9,000/10,000 pending tasks the history
		// queue unloads and stops loading, and the burst's tail waits.
		dynamicconfig.QueuePendingTaskCriticalCount.Key(): 150_000,
		dynamicconfig.QueuePendingTaskMaxCount.Key():      200_000,
		// The history service caches every workflow it touched in the last
		// hour, up to 128,000: about 16 KiB of heap each (mutable state,
		// and a logger with its tags), so live heap grew with the register
		// (452 MiB at 20,000 people at rest, 1.7 GiB projected at 100,000).
		// A workflow out of the cache is read back from the database on its
		// next task. Twice the worker's workflow cache: what the worker
		// holds, the server holds too.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): HistoryCacheSize,
	}
}

// HistoryCacheSize bounds the embedded history service's cache of
// workflows' mutable state (the server's default is 128,000).
const HistoryCacheSize = 8192

// visibilityFile is the SQLite file beside file that holds Temporal's
// visibility records.
func visibilityFile(file string) string {
	return strings.TrimSuffix(file, filepath.Ext(file)) + "-visibility" + filepath.Ext(file)
}

// FreePort finds a free loopback port (released before use: see freePorts).
func FreePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// knownSetting refuses a dynamic configuration key this server does not
// have: the server ignores one silently, so a misspelt override would
// measure nothing (one did: "history." for "system.").
func knownSetting(key string) error {
	var l dynamicconfig.YamlLoader
	l.LoadValue(dynamicconfig.MakeKey(key), []byte("[]"))
	if len(l.Warnings) > 0 || len(l.Errors) > 0 {
		return fmt.Errorf("%q is not a setting of this Temporal server (DSR_DEV_TEMPORAL_CONFIG)", key)
	}
	return nil
}
