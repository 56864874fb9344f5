package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

const sentinel = "Zebedee Quixote-Smith 943 476 5919"

func mustNew(t testing.TB, spec string) *Codec {
	t.Helper()
	c, err := New(spec)
	if err != nil {
		t.Fatalf("New(%q): %v", spec, err)
	}
	return c
}

func payload(t testing.TB, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNew(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	tests := []struct {
		spec    string
		wantID  string
		wantErr string
	}{
		{spec: key, wantID: "k1"},
		{spec: " a:" + key + " , b:" + key, wantID: "a"},
		{spec: "2026-01:" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), wantID: "2026-01"},
		{spec: GenerateKey(), wantID: "k-"},
		{spec: "", wantErr: "empty"},
		{spec: "a:" + short, wantErr: "16 bytes"},
		{spec: "a:not base64!", wantErr: "not valid base64"},
		{spec: "a:" + key + ",a:" + key, wantErr: "given twice"},
		{spec: key + ",b:" + key, wantErr: "keyid:base64key"},
		{spec: "bad id:" + key, wantErr: "key id"},
		{spec: ":" + key, wantErr: "key id"},
	}
	for _, tt := range tests {
		c, err := New(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error message quotes the key: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tt.spec, err)
			continue
		}
		if !strings.HasPrefix(c.EncryptingKeyID(), tt.wantID) {
			t.Errorf("New(%q) encrypts with %q, want %q", tt.spec, c.EncryptingKeyID(), tt.wantID)
		}
	}
}

func TestGenerateKeyIsRandom(t *testing.T) {
	if a, b := GenerateKey(), GenerateKey(); a == b {
		t.Fatalf("two generated keys are equal: %q", a)
	}
}

func TestRoundTrip(t *testing.T) {
	c := mustNew(t, GenerateKey())
	in := []*commonpb.Payload{payload(t, sentinel), payload(t, map[string]int{"n": 1}), payload(t, nil), payload(t, []byte{})}
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range enc {
		if got := string(p.Metadata[converter.MetadataEncoding]); got != MetadataEncodingEncrypted {
			t.Errorf("payload %d encoding = %q", i, got)
		}
		if got := string(p.Metadata[MetadataEncryptionKeyID]); got != c.EncryptingKeyID() {
			t.Errorf("payload %d key id = %q", i, got)
		}
		if bytes.Contains(p.Data, []byte("Zebedee")) {
			t.Errorf("payload %d holds the plaintext", i)
		}
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if in[i].String() != dec[i].String() {
			t.Errorf("payload %d: got %v, want %v", i, dec[i], in[i])
		}
	}
	// Same plaintext twice gives different ciphertexts (random nonce).
	again, _ := c.Encode(in[:1])
	if bytes.Equal(again[0].Data, enc[0].Data) {
		t.Error("encrypting twice gave identical ciphertext")
	}
}

func TestDataConverterRoundTrip(t *testing.T) {
	dc := DataConverter(mustNew(t, GenerateKey()))
	p, err := dc.ToPayload(sentinel)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("Zebedee")) || string(p.Metadata[converter.MetadataEncoding]) != MetadataEncodingEncrypted {
		t.Fatalf("data converter did not encrypt: %v", p)
	}
	var got string
	if err := dc.FromPayload(p, &got); err != nil || got != sentinel {
		t.Fatalf("FromPayload = %q, %v", got, err)
	}
}

func TestWrongKeyFails(t *testing.T) {
	key1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	key2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	enc, err := mustNew(t, "a:"+key1).Encode([]*commonpb.Payload{payload(t, sentinel)})
	if err != nil {
		t.Fatal(err)
	}
	// Same id, different key: authentication fails.
	if _, err := mustNew(t, "a:"+key2).Decode(enc); err == nil || !strings.Contains(err.Error(), "altered or wrong key") {
		t.Errorf("decode with another key under the same id: %v", err)
	}
	// Unknown id.
	if _, err := mustNew(t, "b:"+key1).Decode(enc); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("decode with unknown key id: %v, want ErrUnknownKey", err)
	}
}

func TestRotation(t *testing.T) {
	oldSpec := "old:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	newSpec := "new:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	before, err := mustNew(t, oldSpec).Encode([]*commonpb.Payload{payload(t, "before")})
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustNew(t, newSpec+","+oldSpec)
	after, err := rotated.Encode([]*commonpb.Payload{payload(t, "after")})
	if err != nil {
		t.Fatal(err)
	}
	if id := string(after[0].Metadata[MetadataEncryptionKeyID]); id != "new" {
		t.Errorf("after rotation encrypts with %q, want new", id)
	}
	dec, err := rotated.Decode(append(before, after...))
	if err != nil {
		t.Fatalf("rotated codec cannot read old and new payloads: %v", err)
	}
	dc := converter.GetDefaultDataConverter()
	var a, b string
	if err := dc.FromPayload(dec[0], &a); err != nil || a != "before" {
		t.Errorf("old payload = %q, %v", a, err)
	}
	if err := dc.FromPayload(dec[1], &b); err != nil || b != "after" {
		t.Errorf("new payload = %q, %v", b, err)
	}
	// The old key alone cannot read what the new key wrote.
	if _, err := mustNew(t, oldSpec).Decode(after); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old codec on new payload: %v", err)
	}
}

func TestTamperDetection(t *testing.T) {
	spec := "a:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) +
		",b:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	c := mustNew(t, spec)
	tampers := map[string]func(p *commonpb.Payload){
		"flip ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)-20] ^= 1 },
		"flip nonce bit":      func(p *commonpb.Payload) { p.Data[0] ^= 0x80 },
		"flip tag bit":        func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 },
		"truncate":            func(p *commonpb.Payload) { p.Data = p.Data[:len(p.Data)-1] },
		"too short":           func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		"swap key id":         func(p *commonpb.Payload) { p.Metadata[MetadataEncryptionKeyID] = []byte("b") },
	}
	for name, tamper := range tampers {
		t.Run(name, func(t *testing.T) {
			enc, err := c.Encode([]*commonpb.Payload{payload(t, sentinel)})
			if err != nil {
				t.Fatal(err)
			}
			tamper(enc[0])
			if _, err := c.Decode(enc); err == nil {
				t.Fatal("tampered payload decoded without error")
			}
		})
	}
}

func TestUnencryptedPassesThrough(t *testing.T) {
	c := mustNew(t, GenerateKey())
	plain := []*commonpb.Payload{payload(t, "plain"), {Data: []byte("raw, no metadata")}}
	dec, err := c.Decode(plain)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain {
		if dec[i] != plain[i] {
			t.Errorf("payload %d was changed", i)
		}
	}
}

func TestHandler(t *testing.T) {
	c := mustNew(t, GenerateKey())
	srv := httptest.NewServer(http.StripPrefix("/codec", Handler(c)))
	defer srv.Close()

	enc, err := c.Encode([]*commonpb.Payload{payload(t, sentinel)})
	if err != nil {
		t.Fatal(err)
	}
	// The codec server protocol uses protobuf JSON (base64 data and metadata).
	body, err := json.Marshal(map[string]any{"payloads": []any{map[string]any{
		"metadata": map[string]string{
			"encoding":              base64.StdEncoding.EncodeToString(enc[0].Metadata["encoding"]),
			MetadataEncryptionKeyID: base64.StdEncoding.EncodeToString(enc[0].Metadata[MetadataEncryptionKeyID]),
		},
		"data": base64.StdEncoding.EncodeToString(enc[0].Data),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/codec/decode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var out struct {
		Payloads []struct {
			Metadata map[string]string `json:"metadata"`
			Data     string            `json:"data"`
		} `json:"payloads"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Payloads) != 1 {
		t.Fatalf("got %d payloads", len(out.Payloads))
	}
	data, _ := base64.StdEncoding.DecodeString(out.Payloads[0].Data)
	enc0, _ := base64.StdEncoding.DecodeString(out.Payloads[0].Metadata["encoding"])
	if string(data) != `"`+sentinel+`"` || string(enc0) != "json/plain" {
		t.Errorf("decoded payload = %s (%s)", data, enc0)
	}

	// Encode through the handler, decode locally.
	resp2, err := http.Post(srv.URL+"/codec/encode", "application/json",
		strings.NewReader(`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"ImhpIg=="}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var encOut commonpb.Payloads
	raw := new(bytes.Buffer)
	raw.ReadFrom(resp2.Body)
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("encode status %d: %s", resp2.StatusCode, raw)
	}
	if err := json.Unmarshal(raw.Bytes(), &encOut); err != nil {
		t.Fatal(err)
	}
	back, err := c.Decode(encOut.Payloads)
	if err != nil || string(back[0].Data) != `"hi"` {
		t.Errorf("encode via handler then decode: %v, %v", back, err)
	}

	// A tampered payload is a 400, not a garbled 200.
	bad := bytes.Replace(body, []byte(`"data":"`), []byte(`"data":"AAAA`), 1)
	resp3, err := http.Post(srv.URL+"/codec/decode", "application/json", bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusBadRequest {
		t.Errorf("tampered decode status %d, want 400", resp3.StatusCode)
	}
	// GET is not part of the protocol.
	resp4, err := http.Get(srv.URL + "/codec/decode")
	if err != nil {
		t.Fatal(err)
	}
	resp4.Body.Close()
	if resp4.StatusCode != http.StatusNotFound {
		t.Errorf("GET status %d, want 404", resp4.StatusCode)
	}
}

func TestWithCORS(t *testing.T) {
	const ui = "http://localhost:8233"
	reached := 0
	h := WithCORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusOK)
	}), ui)

	tests := []struct {
		name        string
		method      string
		origin      string
		preflight   bool
		wantStatus  int
		wantAllow   string
		wantReached bool
	}{
		{"preflight from UI", http.MethodOptions, ui, true, http.StatusNoContent, ui, false},
		{"post from UI", http.MethodPost, ui, false, http.StatusOK, ui, true},
		{"preflight from elsewhere", http.MethodOptions, "http://evil.example", true, http.StatusForbidden, "", false},
		{"post from elsewhere", http.MethodPost, "http://evil.example", false, http.StatusOK, "", true},
		{"no origin (CLI)", http.MethodPost, "", false, http.StatusOK, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached = 0
			r := httptest.NewRequest(tt.method, "/codec/decode", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "x-namespace, authorization, content-type")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Allow-Origin %q, want %q", got, tt.wantAllow)
			}
			if (reached > 0) != tt.wantReached {
				t.Errorf("inner handler reached = %v, want %v", reached > 0, tt.wantReached)
			}
			if tt.preflight && tt.wantAllow != "" {
				allowed := strings.ToLower(w.Header().Get("Access-Control-Allow-Headers"))
				for _, h := range []string{"x-namespace", "authorization", "content-type"} {
					if !strings.Contains(allowed, h) {
						t.Errorf("preflight does not allow header %s: %q", h, allowed)
					}
				}
			}
		})
	}
}

func benchPayload(b *testing.B) []*commonpb.Payload {
	return []*commonpb.Payload{{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte("json/plain")},
		Data:     bytes.Repeat([]byte("x"), 1024),
	}}
}

func BenchmarkEncode1KiB(b *testing.B) {
	c := mustNew(b, GenerateKey())
	in := benchPayload(b)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode1KiB(b *testing.B) {
	c := mustNew(b, GenerateKey())
	enc, err := c.Encode(benchPayload(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// A strict codec (production) refuses any payload not encrypted with one of
// its keys, whatever it holds, but not an empty null; its encrypted
// payloads still round-trip, and the lenient codec it came from is
// unchanged.
func TestStrictRefusesUnencrypted(t *testing.T) {
	lenient := mustNew(t, GenerateKey())
	strict := lenient.Strict()
	null, err := converter.GetDefaultDataConverter().ToPayload(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*commonpb.Payload{
		"plain JSON":      payload(t, map[string]string{"reason": "typed into the Temporal UI"}),
		"raw bytes":       {Data: []byte("raw, no metadata")},
		"an empty string": payload(t, ""),
	} {
		if _, err := strict.Decode([]*commonpb.Payload{p}); !errors.Is(err, ErrNotEncrypted) {
			t.Errorf("%s: %v, want ErrNotEncrypted", name, err)
		}
		if _, err := lenient.Decode([]*commonpb.Payload{p}); err != nil {
			t.Errorf("%s: the lenient codec refused it: %v", name, err)
		}
	}
	if _, err := strict.Decode([]*commonpb.Payload{null, nil}); err != nil {
		t.Errorf("an empty null: %v", err)
	}
	enc, err := lenient.Encode([]*commonpb.Payload{payload(t, sentinel)})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := strict.Decode(enc)
	if err != nil || !bytes.Contains(dec[0].Data, []byte("Zebedee")) {
		t.Errorf("strict decode of an encrypted payload: %v", err)
	}
	other, _ := mustNew(t, GenerateKey()).Encode([]*commonpb.Payload{payload(t, sentinel)})
	if _, err := strict.Decode(other); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a payload under another key: %v, want ErrUnknownKey", err)
	}
}
