package e2e

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestProductionWorkerRefusesUnencryptedUpdates: an update sent to a
// person's workflow without the payload key (straight to Temporal, as the
// Temporal UI or a hand-made request would) is refused by a production
// worker and changes nothing; a dev worker, which is lenient so that the
// UI can be explored, takes it, which shows the refusal is the strict
// codec's doing.
func TestProductionWorkerRefusesUnencryptedUpdates(t *testing.T) {
	t.Parallel()
	for _, strict := range []bool{true, false} {
		s := newStackWith(t, fast(), codec.GenerateKey(), stackOptions{StrictPayloads: strict})
		id := s.referAndAcceptAs(nhsNumber(9104+map[bool]int{true: 0, false: 1}[strict]), "amber")
		plain, err := client.Dial(client.Options{HostPort: s.temporal.Address()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		h, err := plain.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: workflows.WorkflowID(id), UpdateName: workflows.UpdateChangeRating, WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{workflows.RatingRequest{Actor: register.Actor{Role: "coordinator"}, Rating: register.Red, Reason: "sent without the key"}},
		})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		cancel()
		plain.Close()
		var p personView
		s.must(200, "coord@example.org", "GET", "/people/"+id, nil, &p)
		if strict && (err == nil || p.Rating != "amber") {
			t.Errorf("production worker: the unencrypted update gave %v and the rating is %s; want refused, amber", err, p.Rating)
		}
		if !strict && (err != nil || p.Rating != "red") {
			t.Errorf("dev worker: the unencrypted update gave %v and the rating is %s; want applied, red", err, p.Rating)
		}
	}
}
