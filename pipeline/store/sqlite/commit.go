package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/encoderlab/encoderlab/pipeline/store"
)

// maxBatch bounds how many writes share one transaction: enough to take
// the fsync out of the per-write cost, small enough that one batch's
// latency stays short.
const maxBatch = 128

// write is one caller's part of a batch: fn runs in the batch's
// transaction inside a savepoint of its own, so a write that fails rolls
// back alone and the others still commit.
type write struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
	// fresh marks new work (a new attempt, a new credential): on a full
	// disk it gets no room of the reserve, which is for finishing work
	// already accepted.
	fresh bool
}

// committer runs every write of the store (group commit). Writes that
// arrive while a transaction commits wait and go together into the next
// one, so a busy store pays one fsync for many writes; a write is
// acknowledged only once its transaction has committed, so what is
// acknowledged is on disk (synchronous=FULL) as before. An idle store
// commits each write at once: batching adds no wait.
type committer struct {
	db *sql.DB
	// after, if not nil, runs after each batch that committed, before
	// the writes are acknowledged.
	after func()
	// full, when set, is asked for room after a batch failed because
	// the disk is full (room).
	full  *room
	queue chan *write
	stop  chan struct{}
	done  sync.WaitGroup

	// mu orders queueing against closing: a write queued under the read
	// lock is queued before close sets stopping, so run still writes it.
	mu       sync.RWMutex
	stopping bool
}

func newCommitter(db *sql.DB, after func(), full room) *committer {
	c := &committer{db: db, after: after, full: &full, queue: make(chan *write, maxBatch), stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

// errClosed is what a write gets once the store is closing.
var errClosed = errors.New("store is closed")

// do runs fn in a write transaction and returns once that transaction
// committed (nil, or fn's error for fn's own part) or failed. fresh says
// fn is new work (write.fresh).
func (c *committer) do(ctx context.Context, fn func(tx *sql.Tx) error, fresh bool) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1), fresh: fresh}
	c.mu.RLock()
	if c.stopping {
		c.mu.RUnlock()
		return errClosed
	}
	select {
	case c.queue <- w:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the write is waited for even if ctx ends: it may be
	// committing, and the caller must not be told it failed if it did not.
	return <-w.done
}

// close stops taking writes and waits for those queued to finish.
func (c *committer) close() {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return
	}
	c.stopping = true
	c.mu.Unlock()
	close(c.stop)
	c.done.Wait()
}

func (c *committer) run() {
	defer c.done.Done()
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case w := <-c.queue:
			batch = append(batch[:0], w)
		case <-c.stop:
			// Whatever got queued before the stop is still written.
			for {
				select {
				case w := <-c.queue:
					c.commit([]*write{w})
				default:
					return
				}
			}
		}
	more:
		for len(batch) < maxBatch {
			select {
			case w := <-c.queue:
				batch = append(batch, w)
			default:
				break more
			}
		}
		c.commit(batch)
	}
}

// room is how the store makes room when a batch fails on a full disk:
// checkpoint empties the WAL (reporting whether it did), spend gives the
// reserve to the batch (reporting whether it freed anything, and done, to
// call once the batch was tried again).
type room struct {
	spend      func() (freed bool, done func())
	checkpoint func() bool
}

// commit runs a batch in one transaction and tells each write its result.
func (c *committer) commit(batch []*write) {
	results := make([]error, len(batch))
	err := c.transact(batch, results)
	full := func() bool { return isFull(err) || slices.ContainsFunc(results, isFull) }
	if c.full != nil && full() {
		// Nothing of the batch committed: a full disk fails the writes of
		// the transaction's frames, the commit frame last. So the batch
		// is tried again: whole after a checkpoint, and if the disk is
		// still full, its finishing writes alone in the reserve's room,
		// new work refused (the reserve is for work already accepted: a
		// new attempt that took it would leave an accepted attempt's
		// outcome none). The checkpoint comes first, while the reserve is
		// still set aside: it copies the WAL's new pages into the
		// database, which grows the database file before the WAL shrinks,
		// and run after the spend it could take the very room the reserve
		// freed for the outcome (the explorer's full-disk-outcome-refused).
		if c.full.checkpoint() {
			clear(results)
			err = c.transact(batch, results)
		}
		if full() && slices.ContainsFunc(batch, func(w *write) bool { return !w.fresh }) {
			freed, done := c.full.spend()
			if freed {
				err = c.transactFinishing(batch, results)
			}
			done()
		}
	}
	if err == nil && c.after != nil {
		c.after()
	}
	for i, w := range batch {
		switch {
		case results[i] != nil:
			w.done <- results[i]
		case err != nil:
			w.done <- err
		default:
			w.done <- nil
		}
	}
}

// transactFinishing runs the batch's finishing writes in one transaction,
// in the room the reserve freed, and refuses its new work; results and
// the returned error are as transact's, by the batch's positions.
func (c *committer) transactFinishing(batch []*write, results []error) error {
	var keep []*write
	var at []int
	for i, w := range batch {
		results[i] = nil
		if w.fresh {
			results[i] = fmt.Errorf("%w: %w", store.ErrUnavailable, errReserveSpent)
			continue
		}
		keep, at = append(keep, w), append(at, i)
	}
	kept := make([]error, len(keep))
	err := c.transact(keep, kept)
	for k, i := range at {
		results[i] = kept[k]
	}
	// The transaction's own error, as transact's: the batch did not
	// commit, so the writes without a result of their own get it and no
	// commit is marked (after).
	return err
}

func (c *committer) transact(batch []*write, results []error) error {
	// The batch's transaction must not end with any one caller's context.
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	single := len(batch) == 1
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if single {
			// A batch of one needs no savepoint: rolling the whole
			// transaction back is the same thing.
			if results[i] = w.fn(tx); results[i] != nil {
				return rollback(tx, nil)
			}
			break
		}
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			return rollback(tx, fmt.Errorf("savepoint: %w", err))
		}
		if results[i] = w.fn(tx); results[i] != nil {
			if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
				return rollback(tx, fmt.Errorf("rollback to savepoint: %w", err))
			}
		}
		if _, err := tx.Exec("RELEASE w"); err != nil {
			return rollback(tx, fmt.Errorf("release savepoint: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollback ends tx after a failure; err (may be nil when the only write's
// own error says it all) is what every write in the batch without an
// error of its own gets.
func rollback(tx *sql.Tx, err error) error {
	if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
		return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
	}
	return err
}
