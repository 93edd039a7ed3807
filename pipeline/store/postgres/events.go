package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// insertEvents records es within tx; the caller checked them (record.Events).
func insertEvents(ctx context.Context, tx pgx.Tx, es []*seam.Event) error {
	for _, e := range es {
		body, occurred, err := record.Event(e)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO events (event_id, workspace_id, event_type, occurred_at, acs_system_id, acs_credential_id, body)
VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.EventID, e.WorkspaceID, e.EventType, truncMicro(occurred), e.ACSSystemID, e.ACSCredentialID, body); err != nil {
			return fmt.Errorf("record event %q: %w", e.EventID, err)
		}
	}
	return nil
}

// ListEvents returns workspaceID's events matching f, oldest first; events
// of the same instant come in event id order.
func (s *Store) ListEvents(ctx context.Context, workspaceID string, f store.EventFilter) ([]*seam.Event, error) {
	where := []string{"workspace_id = $1"}
	args := []any{workspaceID}
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if len(f.Types) > 0 {
		arg("event_type = ANY($%d)", f.Types)
	}
	if f.ACSCredentialID != "" {
		arg("acs_credential_id = $%d", f.ACSCredentialID)
	}
	if f.ACSSystemID != "" {
		arg("acs_system_id = $%d", f.ACSSystemID)
	}
	if !f.Since.IsZero() {
		arg("occurred_at >= $%d", truncMicro(f.Since))
	}
	if !f.Until.IsZero() {
		arg("occurred_at < $%d", truncMicro(f.Until))
	}
	q := `SELECT body::text FROM events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY occurred_at, event_id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events of workspace %q: %w", workspaceID, err)
	}
	defer rows.Close()
	list, err := record.Collect(rows, record.ScanEvent)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events of workspace %q: %w", workspaceID, err)
	}
	return list, nil
}

// GetEvent returns the event, or store.ErrNotFound unless it exists in
// workspaceID.
func (s *Store) GetEvent(ctx context.Context, workspaceID, eventID string) (*seam.Event, error) {
	e, err := record.ScanEvent(s.pool.QueryRow(ctx,
		`SELECT body::text FROM events WHERE event_id = $1 AND workspace_id = $2`, eventID, workspaceID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get event %q: %w", eventID, err)
	}
	return e, nil
}
