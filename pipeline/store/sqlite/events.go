package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

const insertEventSQL = `
INSERT INTO events (event_id, workspace_id, event_type, occurred_at, acs_system_id, acs_credential_id, body)
VALUES (?, ?, ?, ?, ?, ?, ?)`

// insertEvents records es within tx; the caller checked them (record.Events).
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, es []*seam.Event) error {
	for _, e := range es {
		body, occurred, err := record.Event(e)
		if err != nil {
			return err
		}
		if _, err := s.wq.exec(ctx, tx, insertEventSQL,
			e.EventID, e.WorkspaceID, e.EventType, occurred.Format(timeLayout), e.ACSSystemID, e.ACSCredentialID, body); err != nil {
			return fmt.Errorf("record event %q: %w", e.EventID, err)
		}
	}
	return nil
}

// ListEvents returns workspaceID's events matching f, oldest first; events
// of the same instant come in event id order.
func (s *Store) ListEvents(ctx context.Context, workspaceID string, f store.EventFilter) ([]*seam.Event, error) {
	where := []string{"workspace_id = ?"}
	args := []any{workspaceID}
	if len(f.Types) > 0 {
		where = append(where, "event_type IN (?"+strings.Repeat(", ?", len(f.Types)-1)+")")
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	if f.ACSCredentialID != "" {
		where = append(where, "acs_credential_id = ?")
		args = append(args, f.ACSCredentialID)
	}
	if f.ACSSystemID != "" {
		where = append(where, "acs_system_id = ?")
		args = append(args, f.ACSSystemID)
	}
	if !f.Since.IsZero() {
		where = append(where, "occurred_at >= ?")
		args = append(args, f.Since.UTC().Format(timeLayout))
	}
	if !f.Until.IsZero() {
		where = append(where, "occurred_at < ?")
		args = append(args, f.Until.UTC().Format(timeLayout))
	}
	q := `SELECT body FROM events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY occurred_at, event_id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events of workspace %q: %w", workspaceID, err)
	}
	defer rows.Close()
	list, err := record.Collect(rows, record.ScanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events of workspace %q: %w", workspaceID, err)
	}
	return list, nil
}

// GetEvent returns the event, or store.ErrNotFound unless it exists in
// workspaceID.
func (s *Store) GetEvent(ctx context.Context, workspaceID, eventID string) (*seam.Event, error) {
	var e *seam.Event
	row, err := s.rq.queryRow(ctx, `SELECT body FROM events WHERE event_id = ? AND workspace_id = ?`, eventID, workspaceID)
	if err == nil {
		e, err = record.ScanEvent(row)
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get event %q: %w", eventID, err)
	}
	return e, nil
}
