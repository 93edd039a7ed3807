package attempt

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// scanner is a driver that reads the card in its encoder's field without
// writing it (pms and pn532 are).
type scanner interface {
	Scan(ctx context.Context, p driver.Port) (driver.Scan, error)
}

// scan runs a SCAN_CREDENTIAL attempt: the encoder reads the card, and
// the attempt ends with what it holds and which credential of the
// workspace that is, by its card id.
func (w *worker) scan(ctx context.Context, j *job) {
	s := w.led
	a := j.attempt
	fail := func(f failure) {
		if !s.claim(j) {
			s.expiredFirst(a, f, nil)
			return
		}
		s.conclude(a, nil, f, nil, nil)
		s.release(j)
	}
	if s.decided(a.WorkspaceID, a.ID) {
		s.untrack(j)
		return
	}
	if !w.now().Before(a.Deadline) {
		fail(failure{seam.ErrActionAttemptExpired, fmt.Sprintf("the scan's deadline passed while it waited in the queue of encoder %s", w.cfg.DisplayName)})
		return
	}
	if sim := w.takeArmedScan(); sim != nil {
		w.simulateScan(ctx, j, sim, fail)
		return
	}
	sc, ok := w.cfg.Driver.(scanner)
	if !ok {
		fail(failure{seam.ErrUncategorized, fmt.Sprintf("encoder %s cannot read cards", w.cfg.DisplayName)})
		return
	}
	w.dropIfHungUp()
	port, err := w.openPort()
	if err != nil {
		if ctx.Err() == nil {
			fail(failure{seam.ErrEncoderNotOnline, fmt.Sprintf("encoder %s is not online: its port %s cannot be opened: %v", w.cfg.DisplayName, w.cfg.Port, err)})
		}
		return
	}
	scanCtx, cancel := context.WithDeadline(ctx, a.Deadline)
	defer cancel()
	read, err := sc.Scan(scanCtx, port)
	if closesPort(err) {
		w.dropPort(port)
	}
	if ctx.Err() != nil {
		return // the service is closing; the scan stays pending for the next Start
	}
	if err != nil {
		fail(scanFailure(w.cfg.DisplayName, err))
		return
	}
	result, err := w.scanResult(ctx, a.WorkspaceID, read)
	if err != nil {
		fail(failure{seam.ErrUncategorized, fmt.Sprintf("encoder %s read card %s, but the credentials could not be read: %v", w.cfg.DisplayName, read.Number, err)})
		return
	}
	if !s.claim(j) {
		s.expiredFirst(a, failure{}, nil)
		return
	}
	done := *a
	done.Scan = result
	s.conclude(&done, nil, failure{}, &driver.Card{Number: read.Number, Technology: read.Technology, CardID: read.CardID}, nil)
	s.release(j)
}

// scanFailure describes err, returned by a driver's Scan on encoder
// name, in the error types a scan has (@seamapi/types: SCAN_CREDENTIAL).
// A card that left the field before it was read leaves no card on the
// encoder: no_credential_on_encoder, which tells the desk to put it back
// and scan again (a scan has no encoding_interrupted). A type a scan does
// not have is uncategorized_error.
func scanFailure(name string, err error) failure {
	f := encodeFailure(name, err)
	if driver.KindOf(err) == driver.Interrupted {
		return failure{seam.ErrNoCredentialOnEncoder, fmt.Sprintf("encoder %s: the card left the field before it was read (%v); put it back and scan again", name, err)}
	}
	if !slices.Contains(seam.ScanErrorTypes, f.Type) {
		f.Type = seam.ErrUncategorized
	}
	return f
}

// scanResult is the scan's result for what the encoder read: the card,
// and the credential of the encoder's system whose card id it holds.
func (w *worker) scanResult(ctx context.Context, workspaceID string, read driver.Scan) (*seam.ScanResult, error) {
	number := read.Number
	holds := read.Holds == driver.GuestCredential || read.Holds == driver.StaffCredential
	out := &seam.ScanResult{
		ACSCredentialOnEncoder: &seam.CredentialOnEncoder{CardNumber: &number, IsIssued: &holds},
		Warnings:               []seam.ScanWarning{},
	}
	if !holds {
		return out, nil
	}
	cs, err := w.led.credentials(ctx, workspaceID, w.cfg.SystemID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	for _, c := range cs {
		if credential.CardID(c.ACSCredentialID) == read.CardID {
			out.ACSCredentialOnSeam = c
			return out, nil
		}
	}
	out.Warnings = append(out.Warnings, seam.ScanWarning{WarningCode: seam.WarnCredentialOnSeamNotFound,
		WarningMessage: fmt.Sprintf("the card holds card id %s, which no credential of this workspace's system has", read.CardID)})
	return out, nil
}

// The scenarios of next_credential_scan_will_succeed (@seamapi/types).
const (
	ScanExistsOnSeam      = "credential_exists_on_seam"
	ScanNeedsUpdate       = "credential_on_encoder_needs_update"
	ScanNotOnSeam         = "credential_does_not_exist_on_seam"
	ScanEmptyCard         = "credential_on_encoder_is_empty"
	warnOnEncoderOutdated = "acs_credential_on_encoder_out_of_sync"
)

// ScanSimulation is how the next scan on an encoder ends without the
// device: ErrorType, or else Scenario; CredentialID names the
// credential a scenario that finds one finds.
type ScanSimulation struct {
	ErrorType    string
	Scenario     string
	CredentialID string
}

// SimulateNextScan arms the encoder's next scan to end without talking
// to the device: failing with errorType when it is set, else as the
// scenario (a Scan* constant; "" is ScanExistsOnSeam) says, finding
// credentialID when it is set. Arming again replaces it.
func (s *Service) SimulateNextScan(ctx context.Context, workspaceID, encoderID, errorType, scenario, credentialID string) error {
	sim := ScanSimulation{ErrorType: errorType, Scenario: scenario, CredentialID: credentialID}
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return seam.NotFound("acs_encoder", encoderID)
	}
	if sim.CredentialID != "" {
		if _, err := s.credential(ctx, workspaceID, sim.CredentialID); errors.Is(err, store.ErrNotFound) {
			return seam.NotFound("acs_credential", sim.CredentialID)
		} else if err != nil {
			return fmt.Errorf("attempt: reading credential %s: %w", sim.CredentialID, err)
		}
	}
	w.mu.Lock()
	w.armedScan = &sim
	w.mu.Unlock()
	return nil
}

func (w *worker) takeArmedScan() *ScanSimulation {
	w.mu.Lock()
	defer w.mu.Unlock()
	sim := w.armedScan
	w.armedScan = nil
	return sim
}

// simulateScan ends the scan as sim says.
func (w *worker) simulateScan(ctx context.Context, j *job, sim *ScanSimulation, fail func(failure)) {
	s := w.led
	if sim.ErrorType != "" {
		fail(failure{sim.ErrorType, fmt.Sprintf("encoder %s: the scan was simulated to fail with %s", w.cfg.DisplayName, sim.ErrorType)})
		return
	}
	number := syntheticCardNumber()
	read := driver.Scan{Number: number, Technology: "simulated", Holds: driver.GuestCredential}
	switch sim.Scenario {
	case ScanEmptyCard:
		read.Holds = driver.Blank
	case ScanNotOnSeam:
		read.CardID = "0000000000000000"
	default:
		if sim.CredentialID == "" {
			// Any credential of the encoder's system will do: the newest.
			cs, err := s.credentials(ctx, j.attempt.WorkspaceID, w.cfg.SystemID)
			if err == nil && len(cs) > 0 {
				sim.CredentialID = cs[len(cs)-1].ACSCredentialID
			}
		}
		if sim.CredentialID != "" {
			read.CardID = credential.CardID(sim.CredentialID)
		}
	}
	result, err := w.scanResult(ctx, j.attempt.WorkspaceID, read)
	if err != nil {
		fail(failure{seam.ErrUncategorized, fmt.Sprintf("the simulated scan could not read the credentials: %v", err)})
		return
	}
	if sim.Scenario == ScanNeedsUpdate && result.ACSCredentialOnSeam != nil {
		result.Warnings = append(result.Warnings, seam.ScanWarning{WarningCode: warnOnEncoderOutdated,
			WarningMessage: "the card holds an older state of the credential than Seam has (simulated)"})
	}
	if !s.claim(j) {
		s.expiredFirst(j.attempt, failure{}, nil)
		return
	}
	done := *j.attempt
	done.Scan = result
	s.conclude(&done, nil, failure{}, &driver.Card{Number: number, Technology: read.Technology}, nil)
	s.release(j)
}
