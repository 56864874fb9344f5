package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/report"
	"github.com/bsw-dsr/dsr/store"
)

// accessRoutesV1 adds the audit log and the anonymised reports to the JSON
// API (under /api/v1, behind authenticate).
func (s *server) accessRoutesV1(r chi.Router) {
	r.With(requireRole(store.RoleAuditor, store.RoleCoordinator)).Get("/audit", s.auditLog)
	r.Route("/reports", func(r chi.Router) {
		r.Use(requireRole(store.RoleCoordinator, store.RoleCommissioner))
		r.Get("/summary", s.reportSummary(false))
		r.Get("/summary.csv", s.reportSummary(true))
	})
}

type storeKey struct{}

// auditRefusal writes a "refused" entry for a request the user's role may
// not make, against the person the URL names if any, so that every refused
// attempt is in the audit log, not only those on records a professional
// has no part in. It needs the store that authenticate puts in the
// context; a failure to write is logged, and the request is refused anyway.
func auditRefusal(r *http.Request, detail string) {
	st, ok := r.Context().Value(storeKey{}).(*store.Store)
	if !ok || st == nil {
		return
	}
	pid := chi.URLParam(r, "id")
	if _, err := uuid.Parse(pid); err != nil {
		pid = ""
	}
	if err := st.Audit(r.Context(), actorFrom(r), "refused", pid, nil, detail); err != nil {
		loggerFrom(r).WarnContext(r.Context(), "could not audit a refusal", "error", err)
	}
}

// parseTime reads an RFC 3339 time, or a date (YYYY-MM-DD) meaning the
// start of that London day; endOfDay moves a date to the start of the next
// day, so that "to=2026-01-31" takes in the whole of 31 January.
func parseTime(s string, endOfDay bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	d, err := time.ParseInLocation(time.DateOnly, s, register.London)
	if err != nil {
		return time.Time{}, false
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), true
}

// auditLog answers GET /audit: entries newest first, filtered by person,
// user (id or email), from and to. The search is itself audited.
func (s *server) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{PersonID: q.Get("person"), User: strings.TrimSpace(q.Get("user")), Cursor: q.Get("cursor"), Limit: 100}
	fields := map[string]string{}
	if f.PersonID != "" {
		if _, err := uuid.Parse(f.PersonID); err != nil {
			fields["person"] = "must be a person's id"
		}
	}
	if f.User != "" && !strings.Contains(f.User, "@") {
		if _, err := uuid.Parse(f.User); err != nil {
			fields["user"] = "must be a user's id or email"
		}
	}
	for _, p := range []struct {
		name string
		to   *time.Time
		end  bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		if v := q.Get(p.name); v != "" {
			t, ok := parseTime(v, p.end)
			if !ok {
				fields[p.name] = "must be an RFC 3339 time or a date YYYY-MM-DD"
			}
			*p.to = t
		}
	}
	f.Limit = parseLimit(q.Get("limit"), 1000, fields)
	if len(fields) > 0 {
		writeError(w, r, register.Invalid(fields))
		return
	}
	entries, next, err := s.deps.Store.ListAuditAudited(r.Context(), actorFrom(r), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "next": next})
}

// ReportDimensions are the categories every summary lists, with the
// area's localities.
func ReportDimensions(areas register.Localities) report.Dimensions {
	d := report.Dimensions{
		Localities: areas.OrDefault(),
		AgeBands:   []string{"0-13", "14-17", "18-25", "26-64", "65+"},
		Statuses:   []string{string(register.Referred), string(register.Active), string(register.Discharged), string(register.Declined)},
		Needs:      register.Needs,
	}
	for _, r := range register.Ratings {
		d.Ratings = append(d.Ratings, string(r))
	}
	return d
}

// DefaultSuppressBelow is used when the configuration has no threshold
// (a Config not built by config.Load): never publish everything.
const DefaultSuppressBelow = 5

// Summary builds the anonymised summary for the period [from, to), hiding
// counts below cfg.SuppressBelow, by cfg.Localities.
func Summary(ctx context.Context, st *store.Store, cfg config.Config, from, to time.Time) (report.Summary, error) {
	threshold := cfg.SuppressBelow
	if threshold < 1 {
		threshold = DefaultSuppressBelow
	}
	raw, err := st.ReportCounts(ctx, from, to)
	if err != nil {
		return report.Summary{}, err
	}
	if raw.CETR, err = st.CETRCounts(ctx, from, to, cfg.Timing.CETR.KeyworkerMaxAge, cfg.Timing.CETR.KeyworkerRatings); err != nil {
		return report.Summary{}, err
	}
	return report.Build(raw, ReportDimensions(cfg.Localities), threshold), nil
}

// reportDay reads a report bound: a date (YYYY-MM-DD, a London day) or an
// RFC 3339 time, which is rounded down to the start of its London day.
// For to, a date takes in that whole day; either way to is no later than
// the start of today (report.Latest).
func reportDay(s string, isTo bool, now time.Time) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if isTo {
			return report.RoundTo(t, now), true
		}
		return report.StartOfDay(t), true
	}
	d, err := time.ParseInLocation(time.DateOnly, s, register.London)
	if err != nil {
		return time.Time{}, false
	}
	if isTo {
		return report.DayEnd(d, now), true
	}
	return d.UTC(), true
}

// reportSummary answers GET /reports/summary (JSON) and
// /reports/summary.csv over from..to, by default the twelve months to the
// start of today. Reports take whole London days (see report.Latest), so
// that two requests a moment apart cannot be differenced.
func (s *server) reportSummary(csv bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		now := time.Now()
		to := report.Latest(now)
		fields := map[string]string{}
		const want = "must be a date YYYY-MM-DD or an RFC 3339 time (read as the start of its day in London)"
		if v := q.Get("to"); v != "" {
			t, ok := reportDay(v, true, now)
			if !ok {
				fields["to"] = want
			}
			to = t
		}
		from := report.YearTo(to)
		if v := q.Get("from"); v != "" {
			t, ok := reportDay(v, false, now)
			if !ok {
				fields["from"] = want
			}
			from = t
		}
		if len(fields) == 0 && !from.Before(to) {
			fields["from"] = "must be a day before to, and before today (reports count whole days up to the start of today)"
		}
		if len(fields) == 0 && to.Sub(from) > report.MaxPeriod {
			fields["from"] = "the period may be at most ten years"
		}
		if len(fields) > 0 {
			writeError(w, r, register.Invalid(fields))
			return
		}
		sum, err := Summary(r.Context(), s.deps.Store, s.deps.Config, from, to)
		if err != nil {
			writeError(w, r, err)
			return
		}
		horizon, incomplete := report.RetentionHorizon(s.deps.Config.RetainClosedFor, from, time.Now())
		if incomplete {
			w.Header().Set("X-DSR-Incomplete-Before", horizon.Format(time.RFC3339))
		}
		if !csv {
			if incomplete {
				writeJSON(w, http.StatusOK, incompleteSummary{Summary: sum, IncompleteBefore: &horizon, Note: report.RetentionNote})
				return
			}
			writeJSON(w, http.StatusOK, sum)
			return
		}
		var buf bytes.Buffer
		if err := report.WriteCSV(&buf, sum); err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+report.FileName(from, to)+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.Write(buf.Bytes())
	}
}

// incompleteSummary is a summary whose period reaches back before the
// retention horizon: deleted episodes are not in it, and it says so.
type incompleteSummary struct {
	report.Summary
	IncompleteBefore *time.Time `json:"incomplete_before"`
	Note             string     `json:"note"`
}
