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

// PutCredential inserts or replaces c. A credential id is unique across
// workspaces: putting an id that another workspace already holds fails
// with an error matching store.ErrExists and leaves that credential alone.
func (s *Store) PutCredential(ctx context.Context, c *seam.Credential) error {
	if err := s.writeTx(ctx, func(tx pgx.Tx) error { return putCredential(ctx, tx, c) }); err != nil {
		return fmt.Errorf("postgres: put credential %s: %w", record.CredentialID(c), err)
	}
	return nil
}

// putCredential upserts c within tx.
func putCredential(ctx context.Context, tx pgx.Tx, c *seam.Credential) error {
	body, created, err := record.Credential(c)
	if err != nil {
		return err
	}
	// The WHERE on the update keeps one workspace from overwriting
	// another's credential; it then changes no row. Two Puts of a new id
	// at once are settled by the primary key: the second updates.
	tag, err := tx.Exec(ctx, `
INSERT INTO credentials (acs_credential_id, workspace_id, acs_system_id, acs_user_id, created_at, body)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (acs_credential_id) DO UPDATE SET
	acs_system_id = excluded.acs_system_id,
	acs_user_id = excluded.acs_user_id,
	created_at = excluded.created_at,
	body = excluded.body
WHERE credentials.workspace_id = excluded.workspace_id`,
		c.ACSCredentialID, c.WorkspaceID, c.ACSSystemID, c.ACSUserID, truncMicro(created), body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w in another workspace", store.ErrExists)
	}
	return nil
}

// updateCredential replaces c within tx if it is still stored; it
// changes no row when the credential is gone.
func updateCredential(ctx context.Context, tx pgx.Tx, c *seam.Credential) error {
	body, created, err := record.Credential(c)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
UPDATE credentials SET acs_system_id = $1, acs_user_id = $2, created_at = $3, body = $4
WHERE acs_credential_id = $5 AND workspace_id = $6`,
		c.ACSSystemID, c.ACSUserID, truncMicro(created), body, c.ACSCredentialID, c.WorkspaceID)
	if err != nil || tag.RowsAffected() > 0 {
		return err
	}
	// Gone, or another workspace's: the second is refused.
	var one int
	switch err := tx.QueryRow(ctx, `SELECT 1 FROM credentials WHERE acs_credential_id = $1`, c.ACSCredentialID).Scan(&one); {
	case errors.Is(err, pgx.ErrNoRows):
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
			return fmt.Errorf("postgres: delete credential %q: %w", credentialID, err)
		}
	}
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM credentials WHERE acs_credential_id = $1 AND workspace_id = $2`, credentialID, workspaceID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if event != nil {
			return insertEvents(ctx, tx, []*seam.Event{event})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: delete credential %q: %w", credentialID, err)
	}
	return nil
}

// GetCredential returns the credential, or store.ErrNotFound unless it
// exists in workspaceID.
func (s *Store) GetCredential(ctx context.Context, workspaceID, credentialID string) (*seam.Credential, error) {
	c, err := record.ScanCredential(s.pool.QueryRow(ctx,
		`SELECT body FROM credentials WHERE acs_credential_id = $1 AND workspace_id = $2`,
		credentialID, workspaceID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get credential %q: %w", credentialID, err)
	}
	return c, nil
}

// ListCredentials returns workspaceID's credentials matching f, oldest
// first; credentials created at the same instant come in id order.
func (s *Store) ListCredentials(ctx context.Context, workspaceID string, f store.CredentialFilter) ([]*seam.Credential, error) {
	where := []string{"workspace_id = $1"}
	args := []any{workspaceID}
	if f.ACSSystemID != "" {
		args = append(args, f.ACSSystemID)
		where = append(where, fmt.Sprintf("acs_system_id = $%d", len(args)))
	}
	if f.ACSUserID != "" {
		args = append(args, f.ACSUserID)
		where = append(where, fmt.Sprintf("acs_user_id = $%d", len(args)))
	}
	q := `SELECT body FROM credentials WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at, acs_credential_id`
	list, err := s.listCredentials(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("postgres: list credentials of workspace %q: %w", workspaceID, err)
	}
	return list, nil
}

func (s *Store) listCredentials(ctx context.Context, q string, args []any) ([]*seam.Credential, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return record.Collect(rows, record.ScanCredential)
}
