package devstack

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiopts "github.com/temporalio/ui-server/v2/server/server_options"
)

// TemporalUIOptions configures the Temporal UI of dsr dev.
type TemporalUIOptions struct {
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// TemporalAddress is the frontend the UI talks to.
	TemporalAddress string
	Namespace       string
	// CodecEndpoint is the DSR's /codec: the browser sends it the encrypted
	// payloads, with the DSR's session cookie, to show them decoded.
	CodecEndpoint string
}

// TemporalUI is the Temporal web UI (the ui-server module the Temporal CLI
// embeds), served from this process.
type TemporalUI struct {
	srv  *uiserver.Server
	addr string
	done chan error
}

// URL is where a browser opens the UI.
func (u *TemporalUI) URL() string { return "http://" + u.addr }

// Stop stops the UI server.
func (u *TemporalUI) Stop() error {
	u.srv.Stop()
	return <-u.done
}

// StartTemporalUI serves the UI and returns once it answers.
func StartTemporalUI(opts TemporalUIOptions) (*TemporalUI, error) {
	const host = "127.0.0.1"
	port := opts.Port
	// ui-server binds the port itself and exits the process if it cannot:
	// make sure it can (a race with another process remains, but is rare).
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("temporal ui: %w", err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: opts.TemporalAddress,
		EnableUI:            true,
		DefaultNamespace:    opts.Namespace,
		HideLogs:            true,
		DisableNewsFetch:    true, // nothing leaves the machine
		CORS:                uiconfig.CORS{CookieInsecure: true},
		Codec:               uiconfig.Codec{Endpoint: opts.CodecEndpoint, IncludeCredentials: true},
	}
	u := &TemporalUI{srv: uiserver.NewServer(uiopts.WithConfigProvider(cfg)), addr: net.JoinHostPort(host, strconv.Itoa(port)), done: make(chan error, 1)}
	go func() { u.done <- u.srv.Start() }()
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := c.Get(u.URL() + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return u, nil
			}
		}
	}
	u.srv.Stop()
	return nil, fmt.Errorf("temporal ui: not answering on %s", u.addr)
}
