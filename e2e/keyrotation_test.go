package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/tclient"
	"github.com/bsw-dsr/dsr/worker"
	"github.com/bsw-dsr/dsr/workflows"
)

// payloadsOf collects every payload in a protobuf message, however deep.
func payloadsOf(m protoreflect.Message, out *[]*commonpb.Payload) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		*out = append(*out, p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				payloadsOf(v.List().Get(i).Message(), out)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				payloadsOf(mv.Message(), out)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			payloadsOf(v.Message(), out)
		}
		return true
	})
}

// TestHistoriesReadableAfterKeyRotation: a person's workflow runs under
// payload key A; the worker is stopped and started again with
// DSR_PAYLOAD_KEY "B,A" (B new, encrypting; A kept to read). The new
// worker replays the history written under A (it has no cache), takes a
// change, which is written under B, and every payload of the history
// decrypts with B,A; B alone cannot read A's payloads.
func TestHistoriesReadableAfterKeyRotation(t *testing.T) {
	t.Parallel()
	keyA, keyB := codec.GenerateKey(), codec.GenerateKey()
	idA, _, _ := strings.Cut(keyA, ":")
	idB, _, _ := strings.Cut(keyB, ":")
	s := newStackWithKey(t, defaultTiming(t), keyA)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := s.referAndAccept(nhsNumbers(4450, 1)[0])
	s.must(http.StatusOK, "coord@example.org", "PATCH", "/people/"+id, map[string]any{"given_name": "Rotated", "reason": "typo"}, nil)
	s.stopWorkerNow()

	rotatedSpec := keyB + "," + keyA
	rotated, err := tclient.Dial(ctx, tclient.Options{HostPort: s.temporal.Address(), PayloadKey: rotatedSpec, Logger: s.logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rotated.Close)
	s.mu.Lock()
	s.client, s.cfg.PayloadKey = rotated, rotatedSpec
	s.mu.Unlock()
	s.startWorker()

	var res workflows.Result
	err = workflows.Update(ctx, rotated, id, workflows.UpdateChangeRating, "", workflows.RatingRequest{
		Actor: register.Actor{Email: "coord@example.org", Role: "coordinator"}, Rating: register.Amber, Reason: "after rotation"}, &res)
	if err != nil || res.Rating != register.Amber {
		t.Fatalf("change after rotation: %+v, %v", res, err)
	}
	v, err := rotated.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QuerySchedule)
	if err != nil {
		t.Fatalf("query after rotation: %v", err)
	}
	var sched workflows.Schedule
	if err := v.Get(&sched); err != nil || sched.Rating != register.Amber {
		t.Fatalf("schedule after rotation: %+v, %v", sched, err)
	}

	var payloads []*commonpb.Payload
	it := rotated.GetWorkflowHistory(ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		payloadsOf(proto.Clone(e).ProtoReflect(), &payloads)
	}
	byKey := map[string]int{}
	for _, p := range payloads {
		byKey[string(p.GetMetadata()[codec.MetadataEncryptionKeyID])]++
	}
	if byKey[idA] == 0 || byKey[idB] == 0 {
		t.Fatalf("payloads by key %v: want some under A (%s) and some under B (%s)", byKey, idA, idB)
	}
	both, err := codec.New(rotatedSpec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := both.Decode(payloads); err != nil {
		t.Errorf("B,A cannot read the history: %v", err)
	}
	onlyB, err := codec.New(keyB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onlyB.Decode(payloads); !errors.Is(err, codec.ErrUnknownKey) {
		t.Errorf("B alone on A's payloads: %v, want ErrUnknownKey", err)
	}
}

// TestReconcilerStartsAMissingWorkflow: a referral whose row committed but
// whose workflow never started (a crash in between) is found by the
// reconciler, which starts its workflow from the record: the coordinators
// hear of it, and a second run starts nothing twice.
func TestReconcilerStartsAMissingWorkflow(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	ctx := context.Background()
	raw, _ := json.Marshal(referral(nhsNumbers(4460, 1)[0], "Lost"))
	req, err := register.DecodeReferral(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p := req.Normalised().ToPerson()
	p.ID, p.ReferredAt = uuid.NewString(), time.Now().UTC()
	if err := s.store.CreateReferral(ctx, p, register.Actor{Email: "sw@example.org", Role: "professional"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(p.ID), ""); err == nil {
		t.Fatal("the workflow exists before the reconciler ran")
	}
	for range 2 {
		if n, err := worker.Reconcile(ctx, s.client, s.store, s.logger); err != nil || n < 1 {
			t.Fatalf("reconcile: %d, %v", n, err)
		}
	}
	s.waitMail("referral-received", p.ID, 30*time.Second)
	time.Sleep(time.Second)
	if n := len(s.mails("referral-received", p.ID)); n != 1 {
		t.Errorf("%d referral-received mails, want 1", n)
	}
}
