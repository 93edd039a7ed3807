package attempt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/google/uuid"
)

// Service runs encode attempts on the configured encoders.
type Service struct {
	store    store.Store
	lab      *fixtures.Lab
	deadline time.Duration
	open     func(EncoderConfig) (driver.Port, error)
	now      func() time.Time
	log      *slog.Logger
	created  time.Time
	shared   bool
	sharing  Sharing
	cache    *attemptCache
	creds    *credentialCache // nil when the store is shared
	rec      *recorder        // outcomes decided, until the store has them
	observe  func(store.Attempt)
	claims   claims // encodes of credentials whose system refuses reissue
	instance string // names this service in the store's leases

	workers []*worker // in configuration order
	byID    map[string]*worker

	ctx    context.Context // ends at Close; parent of every encode
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers and running deadline timers

	// updating is held (written) while a credential update runs, and
	// read by every Encode: no encode starts from the credential the
	// update is replacing (Service.UpdateCredential).
	updating sync.RWMutex
	mu       sync.Mutex
	started  bool
	closed   bool
	draining bool
	drained  chan struct{}   // closed once draining with nothing in flight
	tracked  map[string]*job // attempts queued or running, by attempt id
	// encoding counts the tracked encodes of each credential (by
	// credentialKey): once none is left, the recorder forgets that it
	// issued the credential (recorder.issued).
	encoding map[string]int
	// accepting counts encodes past the draining check and not yet
	// queued: Drain waits for them too, so an encode is either refused
	// or waited for.
	accepting int
}

// New checks cfg and returns a Service whose workers have not started yet.
func New(cfg Config) (*Service, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if cfg.Store == nil {
		bad("a store is required")
	}
	if cfg.Lab == nil {
		bad("a lab is required")
	}
	if cfg.Deadline < 0 {
		bad("deadline %v is negative", cfg.Deadline)
	}
	s := &Service{
		store:    cfg.Store,
		lab:      cfg.Lab,
		deadline: cfg.Deadline,
		open:     cfg.Open,
		now:      cfg.Now,
		log:      cfg.Logger,
		observe:  cfg.Observe,
		byID:     map[string]*worker{},
		tracked:  map[string]*job{},
		encoding: map[string]int{},
		drained:  make(chan struct{}),
		rec:      newRecorder(),
	}
	if s.deadline == 0 {
		s.deadline = DefaultDeadline
	}
	if s.open == nil {
		s.open = OpenPort
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Sharing != nil {
		var err error
		if s.sharing, err = cfg.Sharing.withDefaults(); err != nil {
			bad("%v", err)
		}
		s.shared = true
		s.instance = s.sharing.Instance
	} else {
		s.instance = "encoderd-" + uuid.NewString()
	}
	for i, ec := range cfg.Encoders {
		name := ec.DisplayName
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		switch {
		case ec.ID == "":
			bad("encoder %s: id is required", name)
		case s.byID[ec.ID] != nil:
			bad("encoder %s: id %s is used twice", name, ec.ID)
		}
		if ec.WorkspaceID == "" {
			bad("encoder %s: workspace id is required", name)
		}
		if ec.Driver == nil {
			bad("encoder %s: driver is required", name)
		}
		if ec.Port == "" {
			bad("encoder %s: port is required", name)
		}
		if ec.Baud < 0 {
			bad("encoder %s: baud %d is negative", name, ec.Baud)
		}
		ec.DisplayName = name
		w := newWorker(s, ec)
		s.workers = append(s.workers, w)
		if ec.ID != "" && s.byID[ec.ID] == nil {
			s.byID[ec.ID] = w
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("attempt: invalid config: %s", strings.Join(problems, "; "))
	}
	s.cache = newAttemptCache(!s.shared)
	if !s.shared {
		s.creds = newCredentialCache()
	}
	s.created = s.now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start resolves the pending attempts the store holds from an earlier run
// (expiring those whose deadline passed, resuming the others on their
// encoders in creation order) and then starts one worker per encoder.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errors.New("attempt: service is closed")
	case s.started:
		s.mu.Unlock()
		return errors.New("attempt: service already started")
	}
	s.started = true
	s.mu.Unlock()

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.recordLoop()
	}()
	if s.shared {
		// The coordinator queues what the store holds for the encoders
		// whose leases it takes, and expires what nobody ran in time.
		s.startWorkers()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.coordinate()
		}()
		return nil
	}
	pending, err := s.store.PendingAttempts(ctx)
	if err != nil {
		return fmt.Errorf("attempt: loading pending attempts: %w", err)
	}
	sort.SliceStable(pending, func(i, j int) bool {
		a, b := pending[i], pending[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	now := s.now()
	for _, a := range pending {
		w := s.byID[a.EncoderID]
		switch {
		case !now.Before(a.Deadline):
			s.finish(a, nil, failure{seam.ErrActionAttemptExpired,
				fmt.Sprintf("the attempt's deadline (%s) passed before it could run", seam.At(a.Deadline))}, nil)
		case w == nil || w.cfg.WorkspaceID != a.WorkspaceID:
			s.finish(a, nil, failure{seam.ErrUncategorized,
				fmt.Sprintf("encoder %s is no longer configured", a.EncoderID)}, nil)
		default:
			s.enqueue(w, a)
			s.log.Info("resuming pending action attempt", "action_attempt_id", a.ID,
				"encoder", w.cfg.DisplayName, "deadline", seam.At(a.Deadline))
		}
	}
	s.startWorkers()
	return nil
}

func (s *Service) startWorkers() {
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(s.ctx)
		}()
	}
}

// Close stops the workers, cancels encodes in flight, closes the ports and
// waits for every goroutine the service started. Attempts it interrupts stay
// pending in the store; the next Start resumes them.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for id, j := range s.tracked {
		j.timer.Stop()
		s.forget(id)
	}
	s.mu.Unlock()

	s.cancel()
	var errs []error
	for _, w := range s.workers {
		// Closing the port here as well as in the worker unblocks a driver
		// that is slow to notice the cancellation.
		if err := w.closePort(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	s.flushUnrecorded()
	if s.shared {
		s.releaseLeases()
	}
	return errors.Join(errs...)
}
