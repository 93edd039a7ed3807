package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/pipeline/store"
)

// ReserveSize is the room the store keeps aside on its disk (a file of
// that size beside the database, <db>.reserve) for the writes that
// finish work already accepted. An encode's outcome is written after its
// card: if the disk filled in between, the card would carry an outcome
// the store cannot hold. So when a write hits a full disk, the store
// gives the reserve back to the filesystem and retries; from then on it
// refuses new work (a new attempt, a new credential) with an error
// matching store.ErrUnavailable until it can set the reserve aside
// again, while outcomes and leases go on in the room it freed. 1 MiB
// holds about a hundred outcomes written one at a time, each its own
// commit (TestReserveKeepsRoomForOutcomes), and more when group commit
// writes them together: far more than a desk has encodes in flight.
const ReserveSize = 1 << 20

// errReserveSpent is what new work gets while the reserve cannot be set
// aside again.
var errReserveSpent = errors.New("the disk is full: the store keeps its last room for the outcomes of encodes already accepted")

// reserve is the store's room on its disk, held as a file.
type reserve struct {
	path string
	size int64

	mu    sync.Mutex
	held  bool
	spent bool // given back since Open; ensure tries to take it again
}

func reservePath(db string) string { return db + ".reserve" }

// newReserve takes the reserve at Open. A disk too full for it does not
// stop the store from opening: the store starts with its reserve spent,
// and takes no new work until there is room.
func newReserve(db string, size int64) *reserve {
	r := &reserve{path: reservePath(db), size: size}
	if size > 0 {
		_ = r.take() // a failure leaves it spent
	}
	return r
}

// take sets the reserve aside; the caller holds mu, or has r to itself.
func (r *reserve) take() error {
	if r.held {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		r.spent = true
		return fmt.Errorf("reserve %s: %w", r.path, err)
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, r.size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		// A filesystem without fallocate: write the room out.
		_, err = f.WriteAt(make([]byte, r.size), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(r.path)
		r.spent = true
		return fmt.Errorf("reserve %s: %w", r.path, err)
	}
	r.held, r.spent = true, false
	return nil
}

// ensure is called before new work: nil while the reserve is held or has
// been taken again, otherwise an error matching store.ErrUnavailable.
func (r *reserve) ensure() error {
	if r.size <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held {
		return nil
	}
	if err := r.take(); err != nil {
		return fmt.Errorf("%w: %w (%v)", store.ErrUnavailable, errReserveSpent, err)
	}
	return nil
}

// spendFor gives the reserve back to the filesystem for the writes in
// hand; it reports whether it freed anything. The reserve stays locked,
// so new work (ensure) cannot take the room back, until done is called
// once those writes were tried again.
func (r *reserve) spendFor() (freed bool, done func()) {
	r.mu.Lock()
	if r.held {
		r.held, r.spent = false, true
		freed = os.Remove(r.path) == nil
	}
	return freed, r.mu.Unlock
}
