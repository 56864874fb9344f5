package devstack

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	// Registers the postgres12 persistence plugin.
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// Temporal's two databases on PostgreSQL, as the Temporal images name them.
const (
	TemporalDatabase           = "temporal"
	TemporalVisibilityDatabase = "temporal_visibility"
)

// postgresSQL is the server's SQL configuration for one database on the
// PostgreSQL server that rawURL names (its database part is ignored).
func postgresSQL(rawURL, database string) (*config.SQL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" || u.Host == "" {
		return nil, errors.New("must be a postgres:// URL with a host")
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	c := &config.SQL{
		PluginName:        postgresql.PluginName,
		ConnectAddr:       host,
		User:              u.User.Username(),
		DatabaseName:      database,
		ConnectProtocol:   "tcp",
		ConnectAttributes: map[string]string{},
		MaxConns:          20,
		MaxIdleConns:      20,
	}
	c.Password, _ = u.User.Password()
	for k, v := range u.Query() {
		c.ConnectAttributes[k] = v[0]
	}
	return c, nil
}

// setupPostgres creates a database if it is missing and brings its schema
// up to date with the Temporal server's own schema tool (what
// temporal-sql-tool create-database, setup-schema -v 0.0 and
// update-schema do), so a new server version migrates on start.
func setupPostgres(c *config.SQL, schemaName string, logger log.Logger) error {
	// The database may exist already (a restart, or made by an operator).
	if err := sqltool.DoCreateDatabase(cloneSQL(c), "postgres", logger); err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create database %s: %w", c.DatabaseName, err)
	}
	conn, err := sqltool.NewConnection(cloneSQL(c), logger)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.DatabaseName, err)
	}
	defer conn.Close()
	// Set up the version tables only once: setting up again would reset the
	// recorded version to 0.0.
	if _, err := conn.ReadSchemaVersion(); err != nil {
		setup := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger)
		if err := setup.Run(); err != nil {
			return fmt.Errorf("set up schema of %s: %w", c.DatabaseName, err)
		}
	}
	update := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{DBName: c.DatabaseName, SchemaName: schemaName}, logger)
	if err := update.Run(); err != nil {
		return fmt.Errorf("update schema of %s: %w", c.DatabaseName, err)
	}
	return nil
}

func cloneSQL(c *config.SQL) *config.SQL {
	d := *c
	d.ConnectAttributes = map[string]string{}
	for k, v := range c.ConnectAttributes {
		d.ConnectAttributes[k] = v
	}
	return &d
}
