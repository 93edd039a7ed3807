package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// AcquireLease takes the named lease for holder until ttl from now, or
// renews it when holder already has it, and returns the new expiry. The
// clock is the database server's, so instances whose own clocks disagree
// still agree on who holds a lease. It returns an error matching
// store.ErrLeaseHeld, and changes nothing, while another holder's lease
// has not expired. ttl must be positive, name and holder not empty; the
// server keeps microseconds, so ttl is rounded up to a whole one.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (time.Time, error) {
	expires, err := s.acquireLease(ctx, name, holder, ttl)
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: acquire lease %q for %q: %w", name, holder, err)
	}
	return expires, nil
}

func (s *Store) acquireLease(ctx context.Context, name, holder string, ttl time.Duration) (time.Time, error) {
	if err := record.CheckLease(name, holder, ttl); err != nil {
		return time.Time{}, err
	}
	micros := (ttl + time.Microsecond - 1) / time.Microsecond
	// One statement decides and writes. now() is the statement's one
	// instant (it runs alone in its transaction): the new expiry and the
	// test for the old one's use the same clock reading. A concurrent
	// Acquire of the same name waits for this row's lock, then evaluates
	// the WHERE against the row as this one left it.
	var expires time.Time
	err := s.pool.QueryRow(ctx, `
INSERT INTO leases AS l (name, holder, expires)
VALUES ($1, $2, now() + $3 * interval '1 microsecond')
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
WHERE l.holder = excluded.holder OR l.expires <= now()
RETURNING expires`,
		name, holder, int64(micros)).Scan(&expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, store.ErrLeaseHeld
	}
	if err != nil {
		return time.Time{}, err
	}
	return expires.UTC(), nil
}

// ReleaseLease frees the named lease if holder holds it, expired or not;
// otherwise it changes nothing and returns nil.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %q for %q: %w", name, holder, err)
	}
	return nil
}
