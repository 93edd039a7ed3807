package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// The statements of the hot write paths, prepared when the store opens.
const (
	insertAttemptSQL = `
INSERT INTO attempts (id, workspace_id, encoder_id, credential_id, status, created_at, deadline)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`
	finishAttemptSQL = `
UPDATE attempts SET status = ?, finished_at = ?, error_type = ?, error_message = ?, result = ?
WHERE id = ? AND workspace_id = ? AND status = 'pending'`
)

// attemptColumns is the column list every attempt query selects, in the
// order scanAttempt reads them.
const attemptColumns = `id, workspace_id, encoder_id, credential_id, status, created_at, deadline,
	finished_at, error_type, error_message, result`

// CreateAttempt stores a as a new pending attempt. Its Status must be
// pending (or empty, meaning pending); the terminal fields are not stored.
// It returns an error matching store.ErrExists when the id is taken, in
// any workspace.
func (s *Store) CreateAttempt(ctx context.Context, a *store.Attempt) error {
	if err := s.createAttempt(ctx, a); err != nil {
		return fmt.Errorf("sqlite: create attempt %s: %w", attemptID(a), err)
	}
	return nil
}

func attemptID(a *store.Attempt) string {
	if a == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", a.ID)
}

func (s *Store) createAttempt(ctx context.Context, a *store.Attempt) error {
	if a == nil {
		return errors.New("attempt is nil")
	}
	if a.ID == "" || a.WorkspaceID == "" {
		return errors.New("attempt needs an id and a workspace id")
	}
	if a.Status != "" && a.Status != seam.StatusPending {
		return fmt.Errorf("status is %q; a new attempt is %q", a.Status, seam.StatusPending)
	}
	created, err := formatTime(a.CreatedAt)
	if err != nil {
		return fmt.Errorf("created_at: %w", err)
	}
	deadline, err := formatTime(a.Deadline)
	if err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := s.wq.exec(ctx, tx, insertAttemptSQL,
			a.ID, a.WorkspaceID, a.EncoderID, a.CredentialID, seam.StatusPending, created, deadline)
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
		return fmt.Errorf("sqlite: finish attempt %s: %w", attemptID(a), err)
	}
	return nil
}

func (s *Store) finishAttempt(ctx context.Context, a *store.Attempt, cred *seam.Credential) error {
	if a == nil {
		return errors.New("attempt is nil")
	}
	if a.Status != seam.StatusSuccess && a.Status != seam.StatusError {
		return fmt.Errorf("status is %q; want %q or %q", a.Status, seam.StatusSuccess, seam.StatusError)
	}
	var finished sql.NullString
	if !a.FinishedAt.IsZero() {
		f, err := formatTime(a.FinishedAt)
		if err != nil {
			return fmt.Errorf("finished_at: %w", err)
		}
		finished = sql.NullString{String: f, Valid: true}
	}
	var result sql.NullString
	if a.Result != nil {
		b, err := json.Marshal(a.Result)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		result = sql.NullString{String: string(b), Valid: true}
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
			if err := s.putCredential(ctx, tx, cred); err != nil {
				return fmt.Errorf("store credential %q: %w", cred.ACSCredentialID, err)
			}
		}
		return nil
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
	list := []*store.Attempt{}
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, rows.Err()
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanAttempt(sc scanner) (*store.Attempt, error) {
	var (
		a                 store.Attempt
		created, deadline string
		finished, result  sql.NullString
	)
	if err := sc.Scan(&a.ID, &a.WorkspaceID, &a.EncoderID, &a.CredentialID, &a.Status,
		&created, &deadline, &finished, &a.ErrorType, &a.ErrorMessage, &result); err != nil {
		return nil, err
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
		if a.Result, err = decodeCredential(result.String); err != nil {
			return nil, fmt.Errorf("attempt %q: result: %w", a.ID, err)
		}
	}
	return &a, nil
}
