package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// RegisterWebhook records the webhook unless it is registered already,
// and returns when it was first registered.
func (s *Store) RegisterWebhook(ctx context.Context, webhookID string, at time.Time) (time.Time, error) {
	if webhookID == "" {
		return time.Time{}, errors.New("postgres: register webhook: no webhook id")
	}
	at, err := record.CheckTime(at)
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: register webhook %q: %w", webhookID, err)
	}
	var first time.Time
	err = s.writeTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhooks (webhook_id, registered_at) VALUES ($1, $2) ON CONFLICT (webhook_id) DO NOTHING`,
			webhookID, truncMicro(at)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT registered_at FROM webhooks WHERE webhook_id = $1`, webhookID).Scan(&first)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: register webhook %q: %w", webhookID, err)
	}
	return first.UTC(), nil
}

// UndeliveredEvents returns the workspace's events from since on that the
// webhook has not delivered nor given up on, oldest first.
func (s *Store) UndeliveredEvents(ctx context.Context, workspaceID, webhookID string, since time.Time, types []string, limit int) ([]*seam.Event, error) {
	q := `SELECT e.body::text FROM events e LEFT JOIN webhook_deliveries d ON d.webhook_id = $1 AND d.event_id = e.event_id
WHERE e.workspace_id = $2 AND e.occurred_at >= $3 AND d.event_id IS NULL`
	args := []any{webhookID, workspaceID, truncMicro(since)}
	if len(types) > 0 {
		args = append(args, types)
		q += fmt.Sprintf(" AND e.event_type = ANY($%d)", len(args))
	}
	q += ` ORDER BY e.occurred_at, e.event_id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: undelivered events of webhook %q: %w", webhookID, err)
	}
	defer rows.Close()
	list, err := record.Collect(rows, record.ScanEvent)
	if err != nil {
		return nil, fmt.Errorf("postgres: undelivered events of webhook %q: %w", webhookID, err)
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
		err = s.writeTx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, delivered, at) VALUES ($1, $2, $3, $4)
ON CONFLICT (webhook_id, event_id) DO UPDATE SET delivered = excluded.delivered, at = excluded.at`,
				webhookID, eventID, delivered, truncMicro(at))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("postgres: mark delivery of event %q by webhook %q: %w", eventID, webhookID, err)
	}
	return nil
}
