package attempt_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/attempt"
	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// refusingStore is a real store whose writes can be made to fail the way
// a full disk fails them, and whose CreateAttempt can be held.
type refusingStore struct {
	store.Store
	refuse atomic.Bool
	// hold, when set, makes CreateAttempt wait for it to close;
	// entered is closed once a CreateAttempt is waiting.
	mu      sync.Mutex
	hold    chan struct{}
	entered chan struct{}
	// holdFinish, when set, makes the next FinishAttempt wait for it to
	// close (a slow disk); finishEntered is closed once one waits.
	holdFinish, finishEntered chan struct{}
}

var errDiskFull = fmt.Errorf("sqlite: database or disk is full: %w", store.ErrUnavailable)

func (s *refusingStore) CreateAttempt(ctx context.Context, a *store.Attempt) error {
	s.mu.Lock()
	hold, entered := s.hold, s.entered
	s.mu.Unlock()
	if hold != nil {
		close(entered)
		<-hold
	}
	if s.refuse.Load() {
		return errDiskFull
	}
	return s.Store.CreateAttempt(ctx, a)
}

func (s *refusingStore) FinishAttempt(ctx context.Context, a *store.Attempt, c *seam.Credential) error {
	s.mu.Lock()
	hold, entered := s.holdFinish, s.finishEntered
	s.holdFinish = nil
	s.mu.Unlock()
	if hold != nil {
		close(entered)
		<-hold
	}
	if s.refuse.Load() {
		return errDiskFull
	}
	return s.Store.FinishAttempt(ctx, a, c)
}

func (s *refusingStore) PutCredential(ctx context.Context, c *seam.Credential) error {
	if s.refuse.Load() {
		return errDiskFull
	}
	return s.Store.PutCredential(ctx, c)
}

func (s *refusingStore) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (time.Time, error) {
	if s.refuse.Load() {
		return time.Time{}, errDiskFull
	}
	return s.Store.AcquireLease(ctx, name, holder, ttl)
}

// withRefusingStore puts a refusingStore in front of the rig's store.
func withRefusingStore(rs **refusingStore) rigOption {
	return func(c *attempt.Config) {
		*rs = &refusingStore{Store: c.Store}
		c.Store = *rs
	}
}

// storedStatus is the attempt's status as the store has it, bypassing
// the service.
func (r *rig) storedStatus(id string) string {
	r.t.Helper()
	a, err := r.store.GetAttempt(context.Background(), r.ws.ID, id)
	if err != nil {
		r.t.Fatalf("GetAttempt(%s) from the store: %v", id, err)
	}
	return a.Status
}

// eventually polls cond until it holds, failing the test after waitBound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitBound)
	for !cond() {
		select {
		case <-tick.C:
		case <-limit:
			t.Fatalf("%s: not within %v", what, waitBound)
		}
	}
}

// An outcome the store refuses stands at once, with the credential it
// issued; new encodes are refused with 503 until the store takes writes
// again, and then the outcome is written.
func TestOutcomeStandsWhenTheStoreRefusesIt(t *testing.T) {
	var rs *refusingStore
	r := newRig(t, withRefusingStore(&rs))
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	call := r.drivers[frontDesk1].next(t)

	rs.refuse.Store(true) // the disk fills while the card is written
	call.reply <- succeed("04A1B2C3D4E5F6")
	got := r.wait(a.ActionAttemptID)
	if got.Status != seam.StatusSuccess || got.Result.CardNumber == nil || *got.Result.CardNumber != "04A1B2C3D4E5F6" {
		t.Fatalf("attempt after a refused write: %s, result %+v; want success on card 04A1B2C3D4E5F6", got.Status, got.Result)
	}
	if s := r.storedStatus(a.ActionAttemptID); s != seam.StatusPending {
		t.Fatalf("the store has status %q while it refuses writes; the double is broken", s)
	}

	// The credential is issued as far as encoding goes: the service
	// serves it so, and refuses new encodes while the store refuses
	// writes.
	_, err := r.svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(frontDesk1))
	wantSeamError(t, err, 503, "service_unavailable")
	other := r.credential("vostio-hotel", seam.AccessCard)
	_, err = r.svc.Encode(context.Background(), r.ws.ID, other.ACSCredentialID, r.encoderID(frontDesk2))
	wantSeamError(t, err, 503, "service_unavailable")
	r.drivers[frontDesk2].idle(t)

	rs.refuse.Store(false) // space is freed
	eventually(t, "the refused outcome reaches the store", func() bool {
		return r.storedStatus(a.ActionAttemptID) == seam.StatusSuccess
	})
	if sc := r.storedCredential(c.ACSCredentialID); sc.IsIssued == nil || !*sc.IsIssued || sc.CardNumber == nil || *sc.CardNumber != "04A1B2C3D4E5F6" {
		t.Fatalf("stored credential after recovery: is_issued %v card_number %v; want issued on 04A1B2C3D4E5F6", sc.IsIssued, sc.CardNumber)
	}
	var b *seam.ActionAttempt
	eventually(t, "encodes are taken again", func() bool {
		var err error
		b, err = r.svc.Encode(context.Background(), r.ws.ID, other.ACSCredentialID, r.encoderID(frontDesk2))
		return err == nil
	})
	r.drivers[frontDesk2].next(t).reply <- succeed("04000000000002")
	if got := r.wait(b.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("encode after recovery ended %s %+v, want success", got.Status, got.Error)
	}
}

// An outcome is shown once the store has it, or once the attempt's
// deadline passed, not while its write is on the way: a reader who saw
// it must see it again after a crash (LIFECYCLE-ONE-TERMINAL), and the
// store is the only thing a crash leaves. A write slower than the
// deadline does not keep the attempt pending past it.
func TestOutcomeShownOnceStoredOrAtItsDeadline(t *testing.T) {
	var rs *refusingStore
	r := newRig(t, withRefusingStore(&rs), withDeadline(shortDeadline))
	r.start()
	for _, slow := range []bool{false, true} {
		c := r.credential("visionline-hotel", seam.AccessCard)
		a := r.encode(c, frontDesk1)
		call := r.drivers[frontDesk1].next(t)
		release := make(chan struct{})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free) // before the rig's cleanup, which waits for the write
		rs.mu.Lock()
		rs.holdFinish, rs.finishEntered = release, make(chan struct{})
		entered := rs.finishEntered
		rs.mu.Unlock()
		call.reply <- succeed("04A1B2C3D4E5F6")
		<-entered
		got, err := r.svc.Attempt(context.Background(), r.ws.ID, a.ActionAttemptID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != seam.StatusPending {
			t.Fatalf("while the outcome's write is on the way the attempt reads %s; want pending until the store has it", got.Status)
		}
		if cred, err := r.svc.View().GetCredential(context.Background(), r.ws.ID, c.ACSCredentialID); err != nil || (cred.IsIssued != nil && *cred.IsIssued) {
			t.Fatalf("while the outcome's write is on the way the credential reads issued (%v); want it as the store has it", err)
		}
		if slow {
			// The write takes longer than the attempt may: at the
			// deadline the outcome is shown, from memory.
			eventually(t, "the outcome shown at the deadline", func() bool {
				got, err := r.svc.Attempt(context.Background(), r.ws.ID, a.ActionAttemptID)
				return err == nil && got.Status == seam.StatusSuccess
			})
		}
		free()
		if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
			t.Fatalf("after the write the attempt reads %s; want success", got.Status)
		}
		eventually(t, "the outcome in the store", func() bool { return r.storedStatus(a.ActionAttemptID) == seam.StatusSuccess })
	}
}

// An attempt that expires while the store refuses writes is terminal at
// its deadline, and its expiry reaches the store later.
func TestExpiryStandsWhenTheStoreRefusesIt(t *testing.T) {
	var rs *refusingStore
	r := newRig(t, withRefusingStore(&rs), withDeadline(shortDeadline))
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	r.drivers[frontDesk1].next(t) // never answered: the encoder waits for a card
	rs.refuse.Store(true)
	r.wantError(a.ActionAttemptID, seam.ErrActionAttemptExpired)
	rs.refuse.Store(false)
	eventually(t, "the expiry reaches the store", func() bool { return r.storedStatus(a.ActionAttemptID) == seam.StatusError })
}

// An attempt queued when the store starts refusing writes does not write
// its card: it waits for the store, and expires if the store does not
// recover by its deadline.
func TestNoCardWrittenWhileTheStoreRefusesWrites(t *testing.T) {
	var rs *refusingStore
	r := newRig(t, withRefusingStore(&rs), withDeadline(shortDeadline))
	r.start()
	first := r.credential("visionline-hotel", seam.AccessCard)
	second := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(first, frontDesk1)
	b := r.encode(second, frontDesk1) // queued behind a
	call := r.drivers[frontDesk1].next(t)
	rs.refuse.Store(true)
	call.reply <- succeed("04000000000001")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("first attempt ended %s, want success", got.Status)
	}
	msg := r.wantError(b.ActionAttemptID, seam.ErrActionAttemptExpired)
	if r.drivers[frontDesk1].received(credential.CardID(second.ACSCredentialID)) {
		t.Fatalf("the driver was asked to write the second card while the store refused writes (attempt ended %q)", msg)
	}
	t.Logf("queued attempt: %s", msg)
	rs.refuse.Store(false)
	eventually(t, "both outcomes reach the store", func() bool {
		return r.storedStatus(a.ActionAttemptID) == seam.StatusSuccess && r.storedStatus(b.ActionAttemptID) == seam.StatusError
	})
}

// A store that fails the write of a new attempt makes the encode a 503,
// not an attempt left behind, and further encodes 503 until it recovers.
func TestEncodeRefusedWhileTheStoreCannotCreateAttempts(t *testing.T) {
	var rs *refusingStore
	r := newRig(t, withRefusingStore(&rs))
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	rs.refuse.Store(true)
	_, err := r.svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(frontDesk1))
	wantSeamError(t, err, 503, "service_unavailable")
	rs.refuse.Store(false)
	var a *seam.ActionAttempt
	eventually(t, "encodes are taken again", func() bool {
		var err error
		a, err = r.svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(frontDesk1))
		return err == nil
	})
	r.drivers[frontDesk1].next(t).reply <- succeed("04000000000003")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("encode after recovery ended %s, want success", got.Status)
	}
}

// One credential of a system that refuses reissue, encoded at once on two
// encoders: one encode writes its card, the other ends
// credential_cannot_be_reissued without its encoder being asked to write.
func TestConcurrentEncodesOfACredentialThatRefusesReissue(t *testing.T) {
	r := newRig(t)
	r.start()
	c := r.credential("salto-space-hotel", seam.AccessCard)
	a := r.encode(c, stationDesk)
	b := r.encode(c, "nfc-station-desk")
	// Whichever encoder the claim goes to first writes; answer it.
	var winner, loser string
	select {
	case call := <-r.drivers[stationDesk].calls:
		winner, loser = stationDesk, "nfc-station-desk"
		call.reply <- succeed("04000000000010")
	case call := <-r.drivers["nfc-station-desk"].calls:
		winner, loser = "nfc-station-desk", stationDesk
		call.reply <- succeed("04000000000010")
	case <-time.After(waitBound):
		t.Fatal("neither encoder was asked to write")
	}
	ids := map[string]string{stationDesk: a.ActionAttemptID, "nfc-station-desk": b.ActionAttemptID}
	if got := r.wait(ids[winner]); got.Status != seam.StatusSuccess {
		t.Fatalf("encode on %s ended %s %+v, want success", winner, got.Status, got.Error)
	}
	r.wantError(ids[loser], seam.ErrCredentialCannotBeReissued)
	if r.drivers[loser].received(credential.CardID(c.ACSCredentialID)) {
		t.Fatalf("%s was asked to write a credential whose system refuses reissue after %s wrote it", loser, winner)
	}
}

// When the encode holding the claim fails (no card), the other encode of
// the same credential goes ahead: the claim serialises, it does not refuse.
func TestClaimPassesOnWhenTheFirstEncodeFails(t *testing.T) {
	r := newRig(t)
	r.start()
	c := r.credential("salto-space-hotel", seam.AccessCard)
	a := r.encode(c, stationDesk)
	first := r.drivers[stationDesk].next(t)
	b := r.encode(c, "nfc-station-desk")
	r.drivers["nfc-station-desk"].idle(t)
	first.reply <- failWith(driver.Errorf(driver.NoCard, "answer TO"))
	r.wantError(a.ActionAttemptID, seam.ErrNoCredentialOnEncoder)
	r.drivers["nfc-station-desk"].next(t).reply <- succeed("04000000000011")
	if got := r.wait(b.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("second encode ended %s %+v, want success", got.Status, got.Error)
	}
}

// Drain waits for an encode it raced with: the encode is either refused
// with 503 or counted, never acknowledged and then abandoned.
func TestDrainWaitsForAnEncodeBeingAccepted(t *testing.T) {
	var rs *refusingStore
	r := newRig(t, withRefusingStore(&rs))
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	hold, entered := make(chan struct{}), make(chan struct{})
	rs.mu.Lock()
	rs.hold, rs.entered = hold, entered
	rs.mu.Unlock()

	type encoded struct {
		a   *seam.ActionAttempt
		err error
	}
	var answered atomic.Pointer[encoded]
	enc := make(chan *encoded, 1)
	go func() {
		a, err := r.svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(frontDesk1))
		e := &encoded{a, err}
		answered.Store(e)
		enc <- e
	}()
	<-entered // past every check, writing the attempt

	// Whenever Drain returns, the encode must have been answered, and an
	// attempt it acknowledged must be terminal.
	drained := make(chan string, 1)
	go func() {
		if _, err := r.svc.Drain(context.Background()); err != nil {
			drained <- fmt.Sprintf("Drain: %v", err)
			return
		}
		e := answered.Load()
		switch {
		case e == nil:
			drained <- "Drain returned while an encode was being accepted"
		case e.err == nil:
			if a, err := r.svc.Attempt(context.Background(), r.ws.ID, e.a.ActionAttemptID); err != nil || a.Status == seam.StatusPending {
				drained <- fmt.Sprintf("Drain returned with acknowledged attempt %s still pending (%v)", e.a.ActionAttemptID, err)
				return
			}
			drained <- ""
		default:
			drained <- ""
		}
	}()
	// Give a Drain that does not wait for the encode the chance to return.
	select {
	case problem := <-drained:
		t.Fatal(problem)
	case <-time.After(100 * time.Millisecond):
	}
	rs.mu.Lock()
	rs.hold = nil
	rs.mu.Unlock()
	close(hold)
	e := <-enc
	if e.err != nil {
		wantSeamError(t, e.err, 503, "service_unavailable")
	} else {
		r.drivers[frontDesk1].next(t).reply <- succeed("04000000000020")
	}
	if problem := <-drained; problem != "" {
		t.Fatal(problem)
	}
}

// A credential whose validity has ended is refused before the encoder is
// touched; one that ends while queued ends uncategorized_error, its card
// unwritten.
func TestExpiredCredentialIsNotEncoded(t *testing.T) {
	var offset atomic.Int64
	// The clock jumps past ends_at within the attempts' deadline.
	r := newRig(t, withDeadline(3*time.Hour),
		func(c *attempt.Config) {
			c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		})
	r.start()
	sys := r.ws.System("visionline-hotel")
	c, err := credential.New(r.ws, sys, sys.Users[0], credential.CreateParams{AccessMethod: seam.AccessCard,
		EndsAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, time.Now())
	if err != nil {
		t.Fatalf("credential.New: %v", err)
	}
	if err := r.store.PutCredential(context.Background(), c); err != nil {
		t.Fatalf("PutCredential: %v", err)
	}

	// Queued behind another encode, it ends while it waits.
	blocker := r.credential("visionline-hotel", seam.AccessCard)
	r.encode(blocker, frontDesk1)
	call := r.drivers[frontDesk1].next(t)
	a := r.encode(c, frontDesk1)
	offset.Store(int64(2 * time.Hour))
	call.reply <- succeed("04000000000030")
	msg := r.wantError(a.ActionAttemptID, seam.ErrUncategorized)
	if r.drivers[frontDesk1].received(credential.CardID(c.ACSCredentialID)) {
		t.Fatalf("the driver was asked to write a credential that had ended (%s)", msg)
	}

	_, err = r.svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(frontDesk1))
	wantSeamError(t, err, 400, "invalid_input")
	r.drivers[frontDesk1].idle(t)
}

// Two servers sharing one store, each driving one of two encoders of a
// system that refuses reissue, encode the same credential at once: one
// card is written, the other encode ends credential_cannot_be_reissued.
func TestConcurrentReissueAcrossServersSharingAStore(t *testing.T) {
	r := newRig(t)
	only := func(name, instance string) *attempt.Service {
		cfg := r.cfg
		cfg.Encoders = nil
		for _, e := range r.cfg.Encoders {
			if e.DisplayName == name {
				cfg.Encoders = append(cfg.Encoders, e)
			}
		}
		cfg.Sharing = &attempt.Sharing{Instance: instance, LeaseTTL: 2 * time.Second, Poll: 20 * time.Millisecond}
		svc, err := attempt.New(cfg)
		if err != nil {
			t.Fatalf("attempt.New: %v", err)
		}
		t.Cleanup(func() { svc.Close() })
		if err := svc.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		return svc
	}
	svcs := map[string]*attempt.Service{stationDesk: only(stationDesk, "server-a"), "nfc-station-desk": only("nfc-station-desk", "server-b")}
	c := r.credential("salto-space-hotel", seam.AccessCard)
	ids := map[string]string{}
	for name, svc := range svcs {
		// Each server drives its encoder once its lease is taken.
		var a *seam.ActionAttempt
		a, err := svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(name))
		if err != nil {
			t.Fatalf("Encode on %s: %v", name, err)
		}
		ids[name] = a.ActionAttemptID
	}
	wait := func(name string) *seam.ActionAttempt {
		t.Helper()
		var got *seam.ActionAttempt
		eventually(t, "attempt on "+name+" ends", func() bool {
			a, err := svcs[name].Attempt(context.Background(), r.ws.ID, ids[name])
			if err != nil {
				t.Fatalf("Attempt: %v", err)
			}
			got = a
			return a.Status != seam.StatusPending
		})
		return got
	}
	var winner, loser string
	select {
	case call := <-r.drivers[stationDesk].calls:
		winner, loser = stationDesk, "nfc-station-desk"
		call.reply <- succeed("04000000000040")
	case call := <-r.drivers["nfc-station-desk"].calls:
		winner, loser = "nfc-station-desk", stationDesk
		call.reply <- succeed("04000000000040")
	case <-time.After(waitBound):
		t.Fatal("neither encoder was asked to write")
	}
	if got := wait(winner); got.Status != seam.StatusSuccess {
		t.Fatalf("encode on %s ended %s %+v, want success", winner, got.Status, got.Error)
	}
	got := wait(loser)
	if got.Status != seam.StatusError || got.Error.Type != seam.ErrCredentialCannotBeReissued {
		t.Fatalf("encode on %s ended %s %+v, want error %s", loser, got.Status, got.Error, seam.ErrCredentialCannotBeReissued)
	}
	if r.drivers[loser].received(credential.CardID(c.ACSCredentialID)) {
		t.Fatalf("%s was asked to write a credential whose system refuses reissue after %s wrote it", loser, winner)
	}
}
