package devstack

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The UI serves its pages, is wired to our codec endpoint with the browser's
// credentials, and reaches the embedded server through its own API.
func TestTemporalUI(t *testing.T) {
	srv, err := StartTemporal(TemporalOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ui, err := StartTemporalUI(TemporalUIOptions{TemporalAddress: srv.Address(), Namespace: "default", CodecEndpoint: "http://127.0.0.1:8080/codec"})
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Stop()

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(ui.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, page := get("/"); code != http.StatusOK || !strings.Contains(page, "<html") {
		t.Errorf("GET /: %d %.200s", code, page)
	}
	code, body := get("/api/v1/settings")
	var settings struct {
		DefaultNamespace string
		Codec            struct {
			Endpoint           string
			IncludeCredentials bool
		}
	}
	if err := json.Unmarshal([]byte(body), &settings); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/settings: %d %v %.200s", code, err, body)
	}
	if settings.Codec.Endpoint != "http://127.0.0.1:8080/codec" || !settings.Codec.IncludeCredentials || settings.DefaultNamespace != "default" {
		t.Errorf("settings: %+v", settings)
	}
	// Through the UI's API to the embedded server.
	if code, body := get("/api/v1/namespaces/default/workflows"); code != http.StatusOK {
		t.Errorf("listing workflows through the UI: %d %.300s", code, body)
	}
}
