package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/rulefmt"
)

// The alert rules shipped in deploy/prometheus are checked as promtool
// check rules does: Prometheus's own rule parser, PromQL included.
func TestPrometheusAlertRules(t *testing.T) {
	const file = "deploy/prometheus/alerts.yml"
	groups, errs := rulefmt.ParseFile(file, false)
	for _, err := range errs {
		t.Errorf("%s: %v", file, err)
	}
	if groups == nil {
		t.Fatal("no rule groups")
	}
	var alerts []string
	exprs := map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert.Value)
			exprs[r.Alert.Value] = r.Expr.Value
		}
	}
	// The four, each on the metric that shows it.
	for alert, metric := range map[string]string{
		"DSRNoticeStuck":      "dsr_notice_oldest_unsent_age_seconds",
		"DSRReminderLagHigh":  "dsr_notice_lag_seconds_bucket",
		"DSRWorkerNotPolling": "temporal_long_request_total",
		"DSRNotReady":         "dsr_readyz_checks_total",
	} {
		if !slices.Contains(alerts, alert) {
			t.Errorf("no alert %s (have %v)", alert, alerts)
		} else if !strings.Contains(exprs[alert], metric) {
			t.Errorf("%s does not use %s: %s", alert, metric, exprs[alert])
		}
	}

	// Control: the parser refuses a broken expression, so the check above
	// can fail.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "alerts.yml")
	os.WriteFile(broken, []byte(strings.Replace(string(b), "max(dsr_notice_oldest_unsent_age_seconds)", "max(dsr_notice_oldest_unsent_age_seconds", 1)), 0o600)
	if _, errs := rulefmt.ParseFile(broken, false); len(errs) == 0 {
		t.Error("control: a broken expression was accepted")
	}
}
