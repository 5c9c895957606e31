package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/legacy"
	"github.com/tenantatlas/tenantatlas/store"
)

// ParseLegacy reads a legacy export (see legacy.Parse for the formats); a malformed one is an
// invalid request whose error names the row and the field.
func ParseLegacy(data []byte, format string) ([]legacy.Record, error) {
	recs, err := legacy.Parse(data, format)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return recs, nil
}

// LegacyImportResult counts an import.
type LegacyImportResult struct {
	Read     int            `json:"read"`
	Imported int64          `json:"imported"`
	Skipped  int64          `json:"skipped"`
	Mapped   map[string]int `json:"mapped_reasons"`
	Unmapped int            `json:"unmapped_reasons"`
}

// ImportLegacy loads legacy run rows into the read-only history of a workspace (tenant.manage).
// Re-importing the same rows skips them.
func (s *Service) ImportLegacy(ctx context.Context, actor Actor, workspace string, recs []legacy.Record) (LegacyImportResult, error) {
	w, err := s.ResolveWorkspace(ctx, actor, workspace)
	if err != nil {
		return LegacyImportResult{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.TenantManage); err != nil {
		return LegacyImportResult{}, err
	}
	res := LegacyImportResult{Read: len(recs), Mapped: map[string]int{}}
	rows := make([]store.LegacyRun, 0, len(recs))
	for _, r := range recs {
		row := store.LegacyRun{Source: r.Source, LegacyID: strings.TrimSpace(r.ID), TenantRef: strings.TrimSpace(r.Tenant),
			Status: r.Status, Outcome: legacy.Outcome(r.Status), LegacyReason: r.FailureReason, ItemsTotal: r.ItemsTotal,
			ItemsFailed: r.ItemsFailed, Details: r.Details}
		row.StartedAt, _ = legacy.ParseTime(r.StartedAt)
		row.FinishedAt, _ = legacy.ParseTime(r.FinishedAt)
		if code, ok := legacy.MapReason(r.FailureReason); ok {
			c := string(code)
			row.ReasonCode = &c
			res.Mapped[c]++
		} else if strings.TrimSpace(r.FailureReason) != "" {
			res.Unmapped++
		}
		rows = append(rows, row)
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		n, err := store.ImportLegacyRuns(ctx, tx, w.ID, rows)
		if err != nil {
			return err
		}
		res.Imported, res.Skipped = n, int64(len(rows))-n
		return s.audit(ctx, tx, actor, &w.ID, "legacy.import", "workspace", w.Name,
			map[string]any{"read": res.Read, "imported": res.Imported, "skipped": res.Skipped})
	})
	return res, err
}

// ListLegacyRuns lists imported legacy history the actor may view (tenant.view), newest first.
func (s *Service) ListLegacyRuns(ctx context.Context, actor Actor, f store.LegacyFilter) ([]store.LegacyRun, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	f.WorkspaceIDs = nil
	for w, r := range roles {
		if r.Can(access.TenantView) {
			f.WorkspaceIDs = append(f.WorkspaceIDs, w)
		}
	}
	if len(f.WorkspaceIDs) == 0 {
		return nil, nil
	}
	return store.ListLegacyRuns(ctx, s.db.Pool, f)
}
