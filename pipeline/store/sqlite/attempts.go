package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// The statements of the hot write paths, prepared when the store opens.
const (
	insertAttemptSQL = `
INSERT INTO attempts (id, workspace_id, encoder_id, credential_id, status, created_at, deadline, action_type)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`
	finishAttemptSQL = `
UPDATE attempts SET status = ?, finished_at = ?, error_type = ?, error_message = ?, result = ?
WHERE id = ? AND workspace_id = ? AND status = 'pending'`
)

// attemptColumns is the column list every attempt query selects, in the
// order scanAttempt reads them.
const attemptColumns = `id, workspace_id, encoder_id, credential_id, status, created_at, deadline,
	finished_at, error_type, error_message, result, action_type`

// CreateAttempt stores a as a new pending attempt. Its Status must be
// pending (or empty, meaning pending); the terminal fields are not stored.
// It returns an error matching store.ErrExists when the id is taken, in
// any workspace.
func (s *Store) CreateAttempt(ctx context.Context, a *store.Attempt) error {
	if err := s.createAttempt(ctx, a); err != nil {
		return fmt.Errorf("sqlite: create attempt %s: %w", record.AttemptID(a), err)
	}
	return nil
}

func (s *Store) createAttempt(ctx context.Context, a *store.Attempt) error {
	created, deadline, err := record.NewAttempt(a)
	if err != nil {
		return err
	}
	if err := s.reserve.ensure(); err != nil {
		return err // new work waits for room; outcomes do not
	}
	return s.writeNew(ctx, func(tx *sql.Tx) error {
		res, err := s.wq.exec(ctx, tx, insertAttemptSQL,
			a.ID, a.WorkspaceID, a.EncoderID, a.CredentialID, seam.StatusPending,
			created.Format(timeLayout), deadline.Format(timeLayout), record.ActionType(a))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrExists
		}
		return nil
	})
}

// GetAttempt returns the attempt, or store.ErrNotFound unless it exists in
// workspaceID.
func (s *Store) GetAttempt(ctx context.Context, workspaceID, attemptID string) (*store.Attempt, error) {
	row, err := s.rq.queryRow(ctx,
		`SELECT `+attemptColumns+` FROM attempts WHERE id = ? AND workspace_id = ?`,
		attemptID, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get attempt %q: %w", attemptID, err)
	}
	a, err := scanAttempt(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get attempt %q: %w", attemptID, err)
	}
	return a, nil
}

// FinishAttempt records a's terminal status if the stored attempt (matched
// by a.ID and a.WorkspaceID) is still pending and, in the same
// transaction, stores cred when it is not nil. a.Status must be success or
// error. It returns an error matching store.ErrNotPending, and changes
// nothing, when the attempt has already finished, and one matching
// store.ErrNotFound when it does not exist in a.WorkspaceID.
func (s *Store) FinishAttempt(ctx context.Context, a *store.Attempt, cred *seam.Credential) error {
	if err := s.finishAttempt(ctx, a, cred); err != nil {
		return fmt.Errorf("sqlite: finish attempt %s: %w", record.AttemptID(a), err)
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
	var finished sql.NullString
	if !f.IsZero() {
		finished = sql.NullString{String: f.Format(timeLayout), Valid: true}
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := s.wq.exec(ctx, tx, finishAttemptSQL,
			a.Status, finished, a.ErrorType, a.ErrorMessage, result, a.ID, a.WorkspaceID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return whyNotPending(ctx, tx, a)
		}
		if cred != nil {
			if err := s.updateCredential(ctx, tx, cred); err != nil {
				return fmt.Errorf("store credential %q: %w", cred.ACSCredentialID, err)
			}
		}
		return s.insertEvents(ctx, tx, a.Events)
	})
}

// whyNotPending tells, after an update matched no row, whether the attempt
// is missing or already finished.
func whyNotPending(ctx context.Context, tx *sql.Tx, a *store.Attempt) error {
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM attempts WHERE id = ? AND workspace_id = ?`,
		a.ID, a.WorkspaceID).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
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
		return nil, fmt.Errorf("sqlite: pending attempts: %w", err)
	}
	return list, nil
}

func (s *Store) pendingAttempts(ctx context.Context) ([]*store.Attempt, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+attemptColumns+` FROM attempts WHERE status = 'pending' ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return record.Collect(rows, scanAttempt)
}

func scanAttempt(sc record.Scanner) (*store.Attempt, error) {
	var (
		a                 store.Attempt
		created, deadline string
		finished, result  sql.NullString
	)
	if err := sc.Scan(&a.ID, &a.WorkspaceID, &a.EncoderID, &a.CredentialID, &a.Status,
		&created, &deadline, &finished, &a.ErrorType, &a.ErrorMessage, &result, &a.ActionType); err != nil {
		return nil, err
	}
	if a.ActionType == seam.ActionTypeEncodeCredential {
		a.ActionType = ""
	}
	var err error
	if a.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("attempt %q: created_at: %w", a.ID, err)
	}
	if a.Deadline, err = parseTime(deadline); err != nil {
		return nil, fmt.Errorf("attempt %q: deadline: %w", a.ID, err)
	}
	if finished.Valid {
		if a.FinishedAt, err = parseTime(finished.String); err != nil {
			return nil, fmt.Errorf("attempt %q: finished_at: %w", a.ID, err)
		}
	}
	if result.Valid {
		if err := record.SetResult(&a, result.String); err != nil {
			return nil, err
		}
	}
	return &a, nil
}
