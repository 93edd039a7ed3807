package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// attemptColumns is the column list every attempt query selects, in the
// order scanAttempt reads them.
const attemptColumns = `id, workspace_id, encoder_id, credential_id, status, created_at, deadline,
	finished_at, error_type, error_message, result::text, action_type`

// CreateAttempt stores a as a new pending attempt. Its Status must be
// pending (or empty, meaning pending); the terminal fields are not stored.
// It returns an error matching store.ErrExists when the id is taken, in
// any workspace.
func (s *Store) CreateAttempt(ctx context.Context, a *store.Attempt) error {
	if err := s.createAttempt(ctx, a); err != nil {
		return fmt.Errorf("postgres: create attempt %s: %w", record.AttemptID(a), err)
	}
	return nil
}

func (s *Store) createAttempt(ctx context.Context, a *store.Attempt) error {
	created, deadline, err := record.NewAttempt(a)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `
INSERT INTO attempts (id, workspace_id, encoder_id, credential_id, status, created_at, deadline, action_type)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO NOTHING`,
		a.ID, a.WorkspaceID, a.EncoderID, a.CredentialID, seam.StatusPending, truncMicro(created), truncMicro(deadline), record.ActionType(a))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

// GetAttempt returns the attempt, or store.ErrNotFound unless it exists in
// workspaceID.
func (s *Store) GetAttempt(ctx context.Context, workspaceID, attemptID string) (*store.Attempt, error) {
	row := s.pool.QueryRow(ctx,
		`SELECT `+attemptColumns+` FROM attempts WHERE id = $1 AND workspace_id = $2`,
		attemptID, workspaceID)
	a, err := scanAttempt(row)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get attempt %q: %w", attemptID, err)
	}
	return a, nil
}

// FinishAttempt records a's terminal status if the stored attempt (matched
// by a.ID and a.WorkspaceID) is still pending and, in the same
// transaction, stores cred when it is not nil. a.Status must be success or
// error. It returns an error matching store.ErrNotPending, and changes
// nothing, when the attempt has already finished, and one matching
// store.ErrNotFound when it does not exist in a.WorkspaceID.
//
// Finishers racing in several processes are settled by the row lock the
// conditional update takes: a second finisher waits for the first's
// transaction, then finds the attempt no longer pending.
func (s *Store) FinishAttempt(ctx context.Context, a *store.Attempt, cred *seam.Credential) error {
	if err := s.finishAttempt(ctx, a, cred); err != nil {
		return fmt.Errorf("postgres: finish attempt %s: %w", record.AttemptID(a), err)
	}
	return nil
}

func (s *Store) finishAttempt(ctx context.Context, a *store.Attempt, cred *seam.Credential) error {
	f, result, err := record.Finish(a)
	if err != nil {
		return err
	}
	if err := record.Events(a.Events); err != nil {
		return err
	}
	// A zero FinishedAt is kept as NULL.
	var finished *time.Time
	if !f.IsZero() {
		f = truncMicro(f)
		finished = &f
	}
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
UPDATE attempts SET status = $1, finished_at = $2, error_type = $3, error_message = $4, result = $5
WHERE id = $6 AND workspace_id = $7 AND status = 'pending'`,
			a.Status, finished, a.ErrorType, a.ErrorMessage, result, a.ID, a.WorkspaceID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return whyNotPending(ctx, tx, a)
		}
		if cred != nil {
			if err := updateCredential(ctx, tx, cred); err != nil {
				return fmt.Errorf("store credential %q: %w", cred.ACSCredentialID, err)
			}
		}
		return insertEvents(ctx, tx, a.Events)
	})
}

// whyNotPending tells, after an update matched no row, whether the attempt
// is missing or already finished.
func whyNotPending(ctx context.Context, tx pgx.Tx, a *store.Attempt) error {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM attempts WHERE id = $1 AND workspace_id = $2`,
		a.ID, a.WorkspaceID).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	default:
		return fmt.Errorf("%w: it is %s", store.ErrNotPending, status)
	}
}

// PendingAttempts returns every pending attempt of every workspace, in
// CreatedAt order, ties broken by ID.
func (s *Store) PendingAttempts(ctx context.Context) ([]*store.Attempt, error) {
	list, err := s.pendingAttempts(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending attempts: %w", err)
	}
	return list, nil
}

func (s *Store) pendingAttempts(ctx context.Context) ([]*store.Attempt, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+attemptColumns+` FROM attempts WHERE status = 'pending' ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return record.Collect(rows, scanAttempt)
}

func scanAttempt(row record.Scanner) (*store.Attempt, error) {
	var (
		a        store.Attempt
		finished *time.Time
		result   *string
	)
	if err := row.Scan(&a.ID, &a.WorkspaceID, &a.EncoderID, &a.CredentialID, &a.Status,
		&a.CreatedAt, &a.Deadline, &finished, &a.ErrorType, &a.ErrorMessage, &result, &a.ActionType); err != nil {
		return nil, err
	}
	if a.ActionType == seam.ActionTypeEncodeCredential {
		a.ActionType = ""
	}
	a.CreatedAt, a.Deadline = a.CreatedAt.UTC(), a.Deadline.UTC()
	if finished != nil {
		a.FinishedAt = finished.UTC()
	}
	if result != nil {
		if err := record.SetResult(&a, *result); err != nil {
			return nil, err
		}
	}
	return &a, nil
}
