package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// AcquireLease takes the named lease for holder until ttl from now, or
// renews it when holder already has it, and returns the new expiry. The
// clock is this process's; processes sharing the file share the machine's
// clock. It returns an error matching store.ErrLeaseHeld, and changes
// nothing, while another holder's lease has not expired. ttl must be
// positive, name and holder not empty.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (time.Time, error) {
	expires, err := s.acquireLease(ctx, name, holder, ttl)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: acquire lease %q for %q: %w", name, holder, err)
	}
	return expires, nil
}

func (s *Store) acquireLease(ctx context.Context, name, holder string, ttl time.Duration) (time.Time, error) {
	if err := record.CheckLease(name, holder, ttl); err != nil {
		return time.Time{}, err
	}
	now := time.Now().UTC()
	expires := now.Add(ttl)
	nowText, err := formatTime(now)
	if err != nil {
		return time.Time{}, err
	}
	expiresText, err := formatTime(expires)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry: %w", err)
	}
	// One statement decides and writes: the update's WHERE lets the row
	// change hands only when it is the holder's own or has expired. The
	// write lock (BEGIN IMMEDIATE) makes it atomic across processes too.
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
WHERE leases.holder = excluded.holder OR leases.expires <= ?`,
			name, holder, expiresText, nowText)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrLeaseHeld
		}
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return expires, nil
}

// ReleaseLease frees the named lease if holder holds it, expired or not;
// otherwise it changes nothing and returns nil.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: release lease %q for %q: %w", name, holder, err)
	}
	return nil
}
