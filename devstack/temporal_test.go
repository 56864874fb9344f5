package devstack

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

func TestTemporalPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "temporal.db")
	srv, err := StartTemporal(TemporalOptions{DatabaseFile: db})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: srv.Address()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	srv, err = StartTemporal(TemporalOptions{DatabaseFile: db})
	if err != nil {
		t.Fatalf("restart on existing database: %v", err)
	}
	defer srv.Stop()
}
