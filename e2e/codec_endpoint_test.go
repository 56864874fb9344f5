package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// A coordinator reads a person's encrypted history through /codec, as the
// Temporal UI or CLI does (the SDK's remote codec client); no one else
// can; the browser may call it from the Temporal UI's origin only.
func TestCodecEndpoint(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	id := s.referAndAccept(nhsNumber(4242))
	s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/reviews",
		map[string]any{"rag": "red", "notes": "Heron-notes-for-the-codec"}, nil)

	// The encrypted payloads of the person's history, read without the codec.
	raw, err := client.Dial(client.Options{HostPort: s.temporal.Address(), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var payloads []*commonpb.Payload
	it := raw.GetWorkflowHistory(context.Background(), "person-"+id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if u := e.GetWorkflowExecutionUpdateAcceptedEventAttributes(); u != nil {
			payloads = append(payloads, u.GetAcceptedRequest().GetInput().GetArgs().GetPayloads()...)
		}
		// The start's input names the person, as the Temporal UI's decode
		// of a history does.
		if st := e.GetWorkflowExecutionStartedEventAttributes(); st != nil {
			payloads = append(payloads, st.GetInput().GetPayloads()...)
		}
	}
	if len(payloads) == 0 {
		t.Fatal("no update payloads in the history")
	}
	for _, p := range payloads {
		if bytes.Contains(p.Data, []byte("Heron")) {
			t.Fatal("a payload is in the clear")
		}
	}

	remote := func(email string) converter.PayloadCodec {
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
			Endpoint: s.api.URL + "/codec",
			ModifyRequest: func(r *http.Request) error {
				if email != "" {
					r.Header.Set("Authorization", "Bearer "+s.tokens[email])
				}
				return nil
			},
		})
	}
	decoded, err := remote("coord@example.org").Decode(payloads)
	if err != nil {
		t.Fatalf("coordinator decode: %v", err)
	}
	all := ""
	for _, p := range decoded {
		all += string(p.Data)
	}
	if !strings.Contains(all, "Heron-notes-for-the-codec") {
		t.Errorf("decoded payloads lack the notes: %.300s", all)
	}
	for _, who := range []string{"", "sw@example.org", "comm@example.org", "audit@example.org"} {
		if _, err := remote(who).Decode(payloads); err == nil {
			t.Errorf("%q decoded the payloads", who)
		}
	}
	// Audited against the person the payloads show.
	var n int
	var who *string
	s.store.Pool.QueryRow(context.Background(), `SELECT count(*), max(person_id::text) FROM audit_log WHERE user_email = 'coord@example.org' AND detail = 'temporal payloads via /codec/decode'`).Scan(&n, &who)
	if n != 1 || who == nil || *who != id {
		t.Errorf("%d audited decodes, of person %v; want 1, of %s", n, who, id)
	}

	// CORS: the UI's origin may call it from the browser; another may not.
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.api.URL+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight(s.cfg.TemporalUIOrigin); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != s.cfg.TemporalUIOrigin {
		t.Errorf("preflight from the UI: %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if resp := preflight("https://elsewhere.example"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from elsewhere: %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// With a browser session instead of a token: from the UI's origin, yes;
	// from another site, no (the cookie would go with any request).
	browser, _ := s.browserFor("coord@example.org")
	body, _ := json.Marshal(commonpb.Payloads{Payloads: payloads[:1]})
	post := func(origin string) int {
		req, _ := http.NewRequest(http.MethodPost, s.api.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "same-site")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(s.cfg.TemporalUIOrigin); got != http.StatusOK {
		t.Errorf("session from the UI's origin: %d", got)
	}
	if got := post("http://localhost:9999"); got != http.StatusForbidden {
		t.Errorf("session from another origin: %d", got)
	}
}
