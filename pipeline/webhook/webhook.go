// Package webhook delivers a workspace's events to the webhooks its lab
// configures, the way Seam's webhooks do: through Svix's scheme. Each
// event is POSTed as JSON with the headers svix-id (the event id),
// svix-timestamp (Unix seconds) and svix-signature ("v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body" under the key the whsec_
// secret encodes), so that a receiver verifies it with Svix's own
// libraries. An answer other than 2xx, or none within the timeout, is
// retried on Svix's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
// after the first try, each scaled), then given up.
//
// What a webhook delivered, or gave up on, is kept in the store, so a
// restart delivers what is left, from the first try again; an event is
// delivered at least once, and more than once only when a server stops
// between a receiver's 2xx and the store's record of it.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/timescale"
)

// Hook is one webhook: where a workspace's events go.
type Hook struct {
	// ID names the hook in the store: the same hook keeps its id across
	// restarts (pipeline/server derives it from the workspace and URL).
	ID          string
	WorkspaceID string
	URL         string
	// Secret is the whsec_ secret the signature is made with.
	Secret string
	// Types are the event types delivered; empty: all.
	Types []string
}

// Store is what the dispatcher needs of the store (store.Store has it).
type Store interface {
	RegisterWebhook(ctx context.Context, webhookID string, at time.Time) (time.Time, error)
	UndeliveredEvents(ctx context.Context, workspaceID, webhookID string, since time.Time, types []string, limit int) ([]*seam.Event, error)
	MarkDelivery(ctx context.Context, webhookID, eventID string, delivered bool, at time.Time) error
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (time.Time, error)
}

// Lease makes servers that share a store deliver each hook's events from
// one of them at a time: the one holding the hook's lease
// ("webhook/<id>"), renewed at every poll.
type Lease struct {
	Holder string
	TTL    time.Duration
}

// Retries is Svix's schedule: how long after each failed try the next
// one comes, before scaling. After the last, the event is given up.
var Retries = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Timeout is how long a receiver has to answer, before scaling (Svix's).
const Timeout = 15 * time.Second

// Config configures a Dispatcher.
type Config struct {
	Hooks []Hook
	Store Store
	// Scale scales the retry schedule, the timeout and the poll.
	Scale timescale.Scale
	// Client sends the deliveries; nil: a client of its own.
	Client *http.Client
	Logger *slog.Logger
	// Lease, when set, is this server's part in a shared store.
	Lease *Lease
}

// Dispatcher delivers events until Close.
type Dispatcher struct {
	cfg    Config
	keys   map[string][]byte
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nudges []chan struct{} // one per hook, capacity 1
}

// ParseSecret returns the key a whsec_ secret encodes.
func ParseSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`a webhook secret starts with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) < 16 {
		return nil, errors.New(`a webhook secret is "whsec_" and the base64 of a key of 16 bytes or more`)
	}
	return key, nil
}

// Sign returns the svix-signature header value of body sent as message
// id at timestamp (Unix seconds) with key.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Start starts delivering the hooks' events. It registers each hook in
// the store first: a hook delivers the events that occur from its first
// registration on.
func Start(ctx context.Context, cfg Config) (*Dispatcher, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Scale == 0 {
		cfg.Scale = 1
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: max(cfg.Scale.Of(Timeout), time.Second)}
	}
	d := &Dispatcher{cfg: cfg, keys: map[string][]byte{}}
	since := map[string]time.Time{}
	for _, h := range cfg.Hooks {
		key, err := ParseSecret(h.Secret)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", h.URL, err)
		}
		d.keys[h.ID] = key
		// At the events' resolution (milliseconds, seam.Time): an event
		// of the same millisecond as the registration is the hook's.
		first, err := cfg.Store.RegisterWebhook(ctx, h.ID, time.Now().Truncate(time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", h.URL, err)
		}
		since[h.ID] = first
	}
	run, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, h := range cfg.Hooks {
		nudge := make(chan struct{}, 1)
		d.nudges = append(d.nudges, nudge)
		d.wg.Go(func() { d.deliver(run, h, since[h.ID], nudge) })
	}
	return d, nil
}

// Nudge makes every hook look for new events now rather than at its next
// poll.
func (d *Dispatcher) Nudge() {
	for _, n := range d.nudges {
		select {
		case n <- struct{}{}:
		default:
		}
	}
}

// Close stops delivering; what is left is delivered after the next Start.
func (d *Dispatcher) Close() error {
	d.cancel()
	d.wg.Wait()
	return nil
}

// retry is an event's state between tries.
type retry struct {
	tries int
	next  time.Time
}

// deliver runs one hook: each poll, every undelivered event that is due
// is tried, in the order it occurred.
func (d *Dispatcher) deliver(ctx context.Context, h Hook, since time.Time, nudge <-chan struct{}) {
	poll := min(max(d.cfg.Scale.Of(time.Second), 20*time.Millisecond), time.Second)
	state := map[string]*retry{}
	log := d.cfg.Logger.With("webhook", h.URL)
	for {
		var events []*seam.Event
		var err error
		if d.holds(ctx, h) {
			events, err = d.cfg.Store.UndeliveredEvents(ctx, h.WorkspaceID, h.ID, since, h.Types, 0)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("reading the events to deliver failed; trying again", "err", err)
		}
		for _, e := range events {
			if ctx.Err() != nil {
				return
			}
			st := state[e.EventID]
			if st == nil {
				st = &retry{}
				state[e.EventID] = st
			}
			if time.Now().Before(st.next) {
				continue
			}
			if err := d.send(ctx, h, e); err == nil {
				// Recorded even when Close comes now: the receiver has it.
				if err := d.mark(ctx, h, e, true); err != nil {
					log.Warn("recording a delivery failed; it will be sent again", "event_id", e.EventID, "err", err)
					continue
				}
				delete(state, e.EventID)
				continue
			} else if ctx.Err() == nil {
				log.Info("webhook delivery failed", "event_id", e.EventID, "try", st.tries+1, "err", err)
			}
			if st.tries >= len(Retries) {
				log.Warn("webhook delivery given up after every retry", "event_id", e.EventID)
				if err := d.mark(ctx, h, e, false); err == nil {
					delete(state, e.EventID)
				}
				continue
			}
			st.next = time.Now().Add(d.cfg.Scale.Of(Retries[st.tries]))
			st.tries++
		}
		select {
		case <-ctx.Done():
			return
		case <-nudge:
		case <-time.After(poll):
		}
	}
}

// holds reports whether this server delivers h now: always, unless it
// shares the store, when it must hold (or renew) h's lease.
func (d *Dispatcher) holds(ctx context.Context, h Hook) bool {
	if d.cfg.Lease == nil {
		return true
	}
	_, err := d.cfg.Store.AcquireLease(ctx, "webhook/"+h.ID, d.cfg.Lease.Holder, d.cfg.Lease.TTL)
	return err == nil
}

// mark records e delivered (or given up) by h, for at most 10 s, whether
// or not ctx has ended.
func (d *Dispatcher) mark(ctx context.Context, h Hook, e *seam.Event, delivered bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return d.cfg.Store.MarkDelivery(ctx, h.ID, e.EventID, delivered, time.Now())
}

// send POSTs e to the hook, signed; nil only for a 2xx answer.
func (d *Dispatcher) send(ctx context.Context, h Hook, e *seam.Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("svix-id", e.EventID)
	req.Header.Set("svix-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("svix-signature", Sign(d.keys[h.ID], e.EventID, ts, body))
	res, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", res.Status)
	}
	return nil
}
