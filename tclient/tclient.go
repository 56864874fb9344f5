// Package tclient dials Temporal the one way the DSR allows: with the
// payload codec on, so nothing a client or worker writes to Temporal is in
// the clear, and with the SDK's logs going to slog.
package tclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/bsw-dsr/dsr/codec"
)

// Options says where Temporal is and how to encrypt.
type Options struct {
	HostPort   string // empty means the SDK's default, localhost:7233
	Namespace  string // empty means "default"
	PayloadKey string // DSR_PAYLOAD_KEY; required (see codec.New)
	// StrictPayloads refuses to decode any payload not encrypted with the
	// key (codec.Strict): production workers and APIs set it; dsr dev does
	// not, so payloads typed into the Temporal UI can still be tried there.
	StrictPayloads bool
	Logger         *slog.Logger
	// TLS: TLSCert and TLSKey (PEM files, both or neither) are the client
	// certificate for mTLS; TLSCA (a PEM file) the CA that signed the
	// server's certificate, instead of the system's. Any of them turns TLS
	// on. APIKey (Temporal Cloud and servers with API-key authorisation) is
	// sent with every call, and also turns TLS on: a key is never sent in
	// the clear.
	TLSCert, TLSKey, TLSCA string
	APIKey                 string
	// MetricsHandler receives the SDK's own metrics; nil means none.
	MetricsHandler client.MetricsHandler
	// Interceptors wrap the client's calls (the metrics' update timer).
	Interceptors []interceptor.ClientInterceptor
}

// tlsConfig builds the TLS configuration o asks for; nil when o asks for
// none. Errors name the variable whose file is at fault.
func tlsConfig(o Options) (*tls.Config, error) {
	if o.TLSCert == "" && o.TLSKey == "" && o.TLSCA == "" && o.APIKey == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if host, _, err := net.SplitHostPort(o.HostPort); err == nil {
		c.ServerName = host
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both or neither")
	}
	if o.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %s holds no PEM certificate", o.TLSCA)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// Dial connects to Temporal with the codec data and failure converters.
// Temporal may still be starting, so a failed connection is retried with
// backoff until ctx is done; a bad payload key fails at once.
func Dial(ctx context.Context, o Options) (client.Client, error) {
	if o.PayloadKey == "" {
		return nil, errors.New("temporal client: no payload key: every client and worker must encrypt payloads; set DSR_PAYLOAD_KEY")
	}
	c, err := codec.New(o.PayloadKey)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	if o.StrictPayloads {
		c = c.Strict()
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if o.HostPort == "" {
		o.HostPort = client.DefaultHostPort
	}
	if o.Namespace == "" {
		o.Namespace = client.DefaultNamespace
	}
	tc, err := tlsConfig(o)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	opts := client.Options{
		ConnectionOptions: client.ConnectionOptions{TLS: tc},
		HostPort:          o.HostPort,
		Namespace:         o.Namespace,
		DataConverter:     codec.DataConverter(c),
		FailureConverter:  codec.FailureConverter(c),
		// The SDK is chatty at info (every worker start, every poller);
		// warnings and errors are what an operator needs.
		Logger: tlog.NewStructuredLogger(slog.New(minLevel{logger.Handler(), slog.LevelWarn})),
	}
	if o.MetricsHandler != nil {
		opts.MetricsHandler = o.MetricsHandler
	}
	opts.Interceptors = o.Interceptors
	if o.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(o.APIKey)
	}

	start := time.Now()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cl, err := client.DialContext(ctx, opts)
		if err == nil {
			if attempt > 1 {
				logger.Info("connected to Temporal", "address", o.HostPort, "attempts", attempt)
			}
			return cl, nil
		}
		level := slog.LevelInfo
		if time.Since(start) > 10*time.Second {
			level = slog.LevelWarn
		}
		logger.Log(ctx, level, "Temporal not reachable yet; retrying", "address", o.HostPort, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal client: dial %s: gave up after %d attempts: %w (last error: %v)", o.HostPort, attempt, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// minLevel drops records below min before they reach the wrapped handler.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
