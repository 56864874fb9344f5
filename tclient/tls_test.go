package tclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/codec"
)

// writeCert makes a self-signed certificate for 127.0.0.1 and writes it
// and its key as PEM files.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestDialTLS: with TEMPORAL_TLS_* set the client speaks TLS to the
// server, trusting the given CA and presenting its certificate (mTLS); a
// missing or unreadable file fails at once, naming the variable.
func TestDialTLS(t *testing.T) {
	dir := t.TempDir()
	serverCert, _, srvPair := writeCert(t, dir, "server")
	clientCert, clientKey, _ := writeCert(t, dir, "client")

	clientCA := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(clientCert)
	clientCA.AppendCertsFromPEM(pemBytes)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvPair}, ClientCAs: clientCA,
		ClientAuth: tls.RequireAndVerifyClientCert, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	handshakes := make(chan []*x509.Certificate, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if tc.Handshake() == nil {
					handshakes <- tc.ConnectionState().PeerCertificates
				}
			}()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = Dial(ctx, Options{HostPort: ln.Addr().String(), PayloadKey: codec.GenerateKey(),
		TLSCert: clientCert, TLSKey: clientKey, TLSCA: serverCert, APIKey: "k"})
	select {
	case peers := <-handshakes:
		if len(peers) == 0 || peers[0].Subject.CommonName != "client" {
			t.Errorf("the server saw client certificates %v, want ours", peers)
		}
	default:
		t.Fatal("no TLS handshake with the client certificate reached the server")
	}

	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"missing CA file", Options{TLSCA: filepath.Join(dir, "nope.pem")}, "TEMPORAL_TLS_CA"},
		{"CA file not PEM", Options{TLSCA: clientKey + "x"}, "TEMPORAL_TLS_CA"},
		{"cert without key", Options{TLSCert: clientCert}, "TEMPORAL_TLS_KEY"},
		{"bad key pair", Options{TLSCert: clientCert, TLSKey: serverCert}, "TEMPORAL_TLS_CERT"},
	} {
		tc.o.PayloadKey = codec.GenerateKey()
		tc.o.HostPort = "127.0.0.1:1"
		start := time.Now()
		_, err := Dial(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || time.Since(start) > time.Second {
			t.Errorf("%s: %v after %v; want at once, naming %s", tc.name, err, time.Since(start), tc.want)
		}
	}
}
