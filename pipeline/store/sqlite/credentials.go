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

// PutCredential inserts or replaces c. A credential id is unique across
// workspaces: putting an id that another workspace already holds fails
// with an error matching store.ErrExists and leaves that credential alone.
func (s *Store) PutCredential(ctx context.Context, c *seam.Credential) error {
	if err := s.reserve.ensure(); err != nil {
		return fmt.Errorf("sqlite: put credential %s: %w", record.CredentialID(c), err)
	}
	if err := s.writeNew(ctx, func(tx *sql.Tx) error { return s.putCredential(ctx, tx, c) }); err != nil {
		return fmt.Errorf("sqlite: put credential %s: %w", record.CredentialID(c), err)
	}
	return nil
}

// putCredentialSQL upserts a credential. The WHERE on the update keeps one
// workspace from overwriting another's credential; it then changes no row.
const putCredentialSQL = `
INSERT INTO credentials (acs_credential_id, workspace_id, acs_system_id, acs_user_id, created_at, body)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (acs_credential_id) DO UPDATE SET
	acs_system_id = excluded.acs_system_id,
	acs_user_id = excluded.acs_user_id,
	created_at = excluded.created_at,
	body = excluded.body
WHERE credentials.workspace_id = excluded.workspace_id`

// putCredential upserts c within tx.
func (s *Store) putCredential(ctx context.Context, tx *sql.Tx, c *seam.Credential) error {
	body, created, err := record.Credential(c)
	if err != nil {
		return err
	}
	res, err := s.wq.exec(ctx, tx, putCredentialSQL,
		c.ACSCredentialID, c.WorkspaceID, c.ACSSystemID, c.ACSUserID, created.Format(timeLayout), body)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w in another workspace", store.ErrExists)
	}
	return nil
}

// updateCredentialSQL replaces a stored credential; it changes no row
// when the credential is gone.
const updateCredentialSQL = `
UPDATE credentials SET acs_system_id = ?, acs_user_id = ?, created_at = ?, body = ?
WHERE acs_credential_id = ? AND workspace_id = ?`

// updateCredential replaces c within tx if it is still stored.
func (s *Store) updateCredential(ctx context.Context, tx *sql.Tx, c *seam.Credential) error {
	body, created, err := record.Credential(c)
	if err != nil {
		return err
	}
	res, err := s.wq.exec(ctx, tx, updateCredentialSQL,
		c.ACSSystemID, c.ACSUserID, created.Format(timeLayout), body, c.ACSCredentialID, c.WorkspaceID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	// Gone, or another workspace's: the second is refused.
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM credentials WHERE acs_credential_id = ?`, c.ACSCredentialID).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w in another workspace", store.ErrExists)
}

// DeleteCredential removes the credential and records event with it, or
// returns store.ErrNotFound unless it exists in workspaceID.
func (s *Store) DeleteCredential(ctx context.Context, workspaceID, credentialID string, event *seam.Event) error {
	if event != nil {
		if err := record.Events([]*seam.Event{event}); err != nil {
			return fmt.Errorf("sqlite: delete credential %q: %w", credentialID, err)
		}
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := s.wq.exec(ctx, tx, deleteCredentialSQL, credentialID, workspaceID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if event != nil {
			return s.insertEvents(ctx, tx, []*seam.Event{event})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete credential %q: %w", credentialID, err)
	}
	return nil
}

const deleteCredentialSQL = `DELETE FROM credentials WHERE acs_credential_id = ? AND workspace_id = ?`

// GetCredential returns the credential, or store.ErrNotFound unless it
// exists in workspaceID.
func (s *Store) GetCredential(ctx context.Context, workspaceID, credentialID string) (*seam.Credential, error) {
	var c *seam.Credential
	row, err := s.rq.queryRow(ctx,
		`SELECT body FROM credentials WHERE acs_credential_id = ? AND workspace_id = ?`,
		credentialID, workspaceID)
	if err == nil {
		c, err = record.ScanCredential(row)
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get credential %q: %w", credentialID, err)
	}
	return c, nil
}

// ListCredentials returns workspaceID's credentials matching f, oldest
// first; credentials created at the same instant come in id order.
func (s *Store) ListCredentials(ctx context.Context, workspaceID string, f store.CredentialFilter) ([]*seam.Credential, error) {
	where := []string{"workspace_id = ?"}
	args := []any{workspaceID}
	if f.ACSSystemID != "" {
		where = append(where, "acs_system_id = ?")
		args = append(args, f.ACSSystemID)
	}
	if f.ACSUserID != "" {
		where = append(where, "acs_user_id = ?")
		args = append(args, f.ACSUserID)
	}
	q := `SELECT body FROM credentials WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at, acs_credential_id`
	list, err := s.listCredentials(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list credentials of workspace %q: %w", workspaceID, err)
	}
	return list, nil
}

func (s *Store) listCredentials(ctx context.Context, q string, args []any) ([]*seam.Credential, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return record.Collect(rows, record.ScanCredential)
}
