package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// maxKeyLen bounds an Idempotency-Key (payment APIs take 255).
const maxKeyLen = 255

// idempotent is one change request's Idempotency-Key (CONTRACT.md): scoped
// to the caller, the person and the operation, and bound to the body. The
// same key with the same body gets the first answer and changes nothing
// more; with another body it is refused.
type idempotent struct {
	key    register.IdempotencyKey
	update string // the workflow update's id; "" when the request had no key
	prior  []byte // the first answer, when a change with this key was written
	ids    int
}

// idempotency reads the request's Idempotency-Key for a change to person
// by operation op. It reads the whole body (and puts it back for decoding),
// since the key is bound to it.
func (p *people) idempotency(r *http.Request, person, op string) (*idempotent, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // too large: 413
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	k := &idempotent{}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return k, nil
	}
	if len(key) > maxKeyLen || !printable(key) {
		return nil, register.Invalidf("Idempotency-Key", "must be 1 to %d printable ASCII characters", maxKeyLen)
	}
	scope := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s", actorFrom(r).UserID, person, op, key)))
	body := sha256.Sum256(raw)
	k.key = register.IdempotencyKey{Scope: hex.EncodeToString(scope[:]), BodyHash: hex.EncodeToString(body[:])}
	use, err := p.store.IdempotencyKey(r.Context(), k.key.Scope)
	if err != nil {
		return nil, err
	}
	if use.BodyHash != "" && use.BodyHash != k.key.BodyHash {
		return nil, register.Invalidf("Idempotency-Key", "was already used with a different request body; use a new key for a new request")
	}
	k.prior = use.Applied
	// A try that was given up with nothing written is over (Temporal keeps
	// its failure under its id), so a retry is a new update.
	k.update = uuid.NewSHA1(uuid.NameSpaceURL, []byte("dsr-api/"+k.key.Scope+"/"+k.key.BodyHash+"/"+strconv.Itoa(use.Abandoned))).String()
	return k, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newID is the id of something the change creates (a review, an action):
// random without a key; with one, derived from it, so that a retried
// request names the same thing.
func (k *idempotent) newID() string {
	if k.key.Scope == "" {
		return uuid.NewString()
	}
	k.ids++
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("dsr-api/"+k.key.Scope+"/"+k.key.BodyHash+"/id/"+strconv.Itoa(k.ids))).String()
}

// send makes the change through the person's workflow, or, when a change
// with this key was already written, answers as the first request was
// answered without changing anything more.
func (p *people) send(r *http.Request, k *idempotent, person, name string, req keyedRequest) (workflows.Result, error) {
	var res workflows.Result
	if k.prior != nil {
		if err := json.Unmarshal(k.prior, &res); err != nil {
			return res, fmt.Errorf("api: stored answer for an Idempotency-Key: %w", err)
		}
		return res, nil
	}
	req.SetKey(k.key)
	err := workflows.Update(r.Context(), p.temporal, person, name, k.update, req, &res)
	return res, err
}

// keyedRequest is an update request that carries the key to the workflow.
type keyedRequest interface{ SetKey(register.IdempotencyKey) }
