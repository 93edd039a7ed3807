package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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

// RegisterWebhook records the webhook unless it is registered already,
// and returns when it was first registered.
func (s *Store) RegisterWebhook(ctx context.Context, webhookID string, at time.Time) (time.Time, error) {
	if webhookID == "" {
		return time.Time{}, errors.New("sqlite: register webhook: no webhook id")
	}
	at, err := record.CheckTime(at)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: register webhook %q: %w", webhookID, err)
	}
	var first string
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.wq.exec(ctx, tx, `INSERT INTO webhooks (webhook_id, registered_at) VALUES (?, ?) ON CONFLICT (webhook_id) DO NOTHING`,
			webhookID, at.Format(timeLayout)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT registered_at FROM webhooks WHERE webhook_id = ?`, webhookID).Scan(&first)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: register webhook %q: %w", webhookID, err)
	}
	t, err := time.Parse(timeLayout, first)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: register webhook %q: registered_at %q: %w", webhookID, first, err)
	}
	return t, nil
}

// UndeliveredEvents returns the workspace's events from since on that the
// webhook has not delivered nor given up on, oldest first.
func (s *Store) UndeliveredEvents(ctx context.Context, workspaceID, webhookID string, since time.Time, types []string, limit int) ([]*seam.Event, error) {
	where := []string{"e.workspace_id = ?", "e.occurred_at >= ?", "d.event_id IS NULL"}
	args := []any{webhookID, workspaceID, since.UTC().Format(timeLayout)}
	if len(types) > 0 {
		where = append(where, "e.event_type IN (?"+strings.Repeat(", ?", len(types)-1)+")")
		for _, t := range types {
			args = append(args, t)
		}
	}
	q := `SELECT e.body FROM events e LEFT JOIN webhook_deliveries d ON d.webhook_id = ? AND d.event_id = e.event_id WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY e.occurred_at, e.event_id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: undelivered events of webhook %q: %w", webhookID, err)
	}
	defer rows.Close()
	list, err := record.Collect(rows, record.ScanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: undelivered events of webhook %q: %w", webhookID, err)
	}
	return list, nil
}

// MarkDelivery records the webhook's delivery of the event, or that it
// gave up on it.
func (s *Store) MarkDelivery(ctx context.Context, webhookID, eventID string, delivered bool, at time.Time) error {
	at, err := record.CheckTime(at)
	if err == nil && (webhookID == "" || eventID == "") {
		err = errors.New("a delivery needs a webhook id and an event id")
	}
	if err == nil {
		d := 0
		if delivered {
			d = 1
		}
		err = s.writeTx(ctx, func(tx *sql.Tx) error {
			_, err := s.wq.exec(ctx, tx, `INSERT INTO webhook_deliveries (webhook_id, event_id, delivered, at) VALUES (?, ?, ?, ?)
ON CONFLICT (webhook_id, event_id) DO UPDATE SET delivered = excluded.delivered, at = excluded.at`,
				webhookID, eventID, d, at.Format(timeLayout))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: mark delivery of event %q by webhook %q: %w", eventID, webhookID, err)
	}
	return nil
}
