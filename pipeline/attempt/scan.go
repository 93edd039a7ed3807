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
	s := w.svc
	a := j.attempt
	fail := func(f failure) {
		if !s.claim(j) {
			s.expiredFirst(a, f, nil)
			return
		}
		s.conclude(a, nil, f, nil, nil)
		s.release(j)
	}
	if _, decided := s.rec.attempt(a.WorkspaceID, a.ID); decided {
		s.untrack(j)
		return
	}
	if !s.now().Before(a.Deadline) {
		fail(failure{seam.ErrActionAttemptExpired, fmt.Sprintf("the scan's deadline passed while it waited in the queue of encoder %s", w.cfg.DisplayName)})
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
		f := encodeFailure(w.cfg.DisplayName, err)
		if !slices.Contains(seam.ScanErrorTypes, f.Type) {
			f.Type = seam.ErrUncategorized
		}
		fail(f)
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
	cs, err := w.svc.View().ListCredentials(ctx, workspaceID, store.CredentialFilter{ACSSystemID: w.cfg.SystemID})
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
