package attempt_test

import (
	"context"
	"testing"

	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// scanningDriver is a scripted driver that also reads cards: each Scan
// returns the next of reads.
type scanningDriver struct {
	*scriptedDriver
	reads chan scanReply
}

type scanReply struct {
	scan driver.Scan
	err  error
}

func (d *scanningDriver) Scan(ctx context.Context, _ driver.Port) (driver.Scan, error) {
	select {
	case r := <-d.reads:
		return r.scan, r.err
	case <-ctx.Done():
		return driver.Scan{}, ctx.Err()
	}
}

// scanningOn gives the rig's encoder name a scanning driver (before
// start), its reads channel of capacity n.
func scanningOn(r *rig, name string, n int) *scanningDriver {
	d := &scanningDriver{scriptedDriver: r.drivers[name], reads: make(chan scanReply, n)}
	for i := range r.cfg.Encoders {
		if r.cfg.Encoders[i].DisplayName == name {
			r.cfg.Encoders[i].Driver = d
		}
	}
	return d
}

func TestScan(t *testing.T) {
	r := newRig(t)
	d := scanningOn(r, frontDesk1, 6)
	svc := r.start()
	ctx := context.Background()
	c := r.credential("visionline-hotel", seam.AccessCard)
	cardID := credential.CardID(c.ACSCredentialID)

	scan := func(reply scanReply) *seam.ActionAttempt {
		t.Helper()
		d.reads <- reply
		a, err := svc.Scan(ctx, r.ws.ID, r.encoderID(frontDesk1))
		if err != nil {
			t.Fatal(err)
		}
		if a.ActionType != seam.ActionTypeScanCredential || a.Status != seam.StatusPending {
			t.Fatalf("Scan answered %+v, want a pending SCAN_CREDENTIAL attempt", a)
		}
		return r.wait(a.ActionAttemptID)
	}

	got := scan(scanReply{scan: driver.Scan{Number: "04A1B2C3", Technology: "mifare-classic-1k", Holds: driver.GuestCredential, CardID: cardID}})
	if got.Status != seam.StatusSuccess || got.Scan == nil || got.Result != nil {
		t.Fatalf("scan of the credential's card ended %s %+v (scan %+v)", got.Status, got.Error, got.Scan)
	}
	enc := got.Scan.ACSCredentialOnEncoder
	if enc == nil || enc.CardNumber == nil || *enc.CardNumber != "04A1B2C3" || enc.IsIssued == nil || !*enc.IsIssued {
		t.Errorf("acs_credential_on_encoder = %+v, want card 04A1B2C3 issued", enc)
	}
	if on := got.Scan.ACSCredentialOnSeam; on == nil || on.ACSCredentialID != c.ACSCredentialID || len(got.Scan.Warnings) != 0 {
		t.Errorf("acs_credential_on_seam = %+v, warnings %+v; want credential %s and no warning", on, got.Scan.Warnings, c.ACSCredentialID)
	}

	got = scan(scanReply{scan: driver.Scan{Number: "04A1B2C4", Technology: "mifare-classic-1k", Holds: driver.GuestCredential, CardID: "0123456789ABCDEF"}})
	if got.Status != seam.StatusSuccess || got.Scan.ACSCredentialOnSeam != nil || len(got.Scan.Warnings) != 1 ||
		got.Scan.Warnings[0].WarningCode != seam.WarnCredentialOnSeamNotFound {
		t.Errorf("scan of an unknown credential's card = %+v; want no credential on seam and acs_credential_on_seam_not_found", got.Scan)
	}

	got = scan(scanReply{scan: driver.Scan{Number: "04A1B2C5", Technology: "mifare-classic-1k", Holds: driver.Blank}})
	if got.Status != seam.StatusSuccess || *got.Scan.ACSCredentialOnEncoder.IsIssued || got.Scan.ACSCredentialOnSeam != nil || len(got.Scan.Warnings) != 0 {
		t.Errorf("scan of a blank card = %+v; want not issued, nothing on seam, no warning", got.Scan)
	}

	got = scan(scanReply{err: driver.Errorf(driver.NoCard, "empty field")})
	if got.Status != seam.StatusError || got.Error == nil || got.Error.Type != seam.ErrNoCredentialOnEncoder {
		t.Errorf("scan of an empty field ended %s %+v, want no_credential_on_encoder", got.Status, got.Error)
	}
	// A card that left mid-read leaves the encoder empty: a scan has no
	// encoding_interrupted (@seamapi/types, SCAN_CREDENTIAL errors).
	got = scan(scanReply{err: driver.Errorf(driver.Interrupted, "read block 4: the card stopped answering")})
	if got.Status != seam.StatusError || got.Error.Type != seam.ErrNoCredentialOnEncoder {
		t.Errorf("a card removed mid-read ended %+v, want no_credential_on_encoder", got.Error)
	}
	got = scan(scanReply{err: driver.Errorf(driver.CannotOverwrite, "not a scan's word")})
	if got.Status != seam.StatusError || got.Error.Type != seam.ErrUncategorized {
		t.Errorf("a kind a scan has no type for ended %+v, want uncategorized_error", got.Error)
	}
	r.drivers[frontDesk1].idle(t) // a scan writes nothing

	// An encoder whose driver cannot read cards refuses scans.
	if _, err := svc.Scan(ctx, r.ws.ID, r.encoderID("nfc-desk-1")); err == nil {
		t.Error("a scan on a driver without Scan was accepted")
	}
}

// A simulated scan ends as armed without the device.
func TestSimulatedScans(t *testing.T) {
	r := newRig(t)
	scanningOn(r, frontDesk1, 0) // unbuffered, and nothing sent: no read is answered
	svc := r.start()
	ctx := context.Background()
	c := r.credential("visionline-hotel", seam.AccessCard)
	enc := r.encoderID(frontDesk1)
	run := func(errorType, scenario, cred string) *seam.ActionAttempt {
		t.Helper()
		if err := svc.SimulateNextScan(ctx, r.ws.ID, enc, errorType, scenario, cred); err != nil {
			t.Fatal(err)
		}
		a, err := svc.Scan(ctx, r.ws.ID, enc)
		if err != nil {
			t.Fatal(err)
		}
		return r.wait(a.ActionAttemptID)
	}
	if got := run("", "credential_exists_on_seam", c.ACSCredentialID); got.Status != seam.StatusSuccess ||
		got.Scan.ACSCredentialOnSeam == nil || got.Scan.ACSCredentialOnSeam.ACSCredentialID != c.ACSCredentialID {
		t.Errorf("credential_exists_on_seam: %+v", got.Scan)
	}
	if got := run("", "credential_on_encoder_needs_update", c.ACSCredentialID); len(got.Scan.Warnings) != 1 ||
		got.Scan.Warnings[0].WarningCode != "acs_credential_on_encoder_out_of_sync" {
		t.Errorf("credential_on_encoder_needs_update: warnings %+v", got.Scan.Warnings)
	}
	if got := run("", "credential_does_not_exist_on_seam", ""); got.Scan.ACSCredentialOnSeam != nil || len(got.Scan.Warnings) != 1 ||
		got.Scan.Warnings[0].WarningCode != seam.WarnCredentialOnSeamNotFound {
		t.Errorf("credential_does_not_exist_on_seam: %+v", got.Scan)
	}
	if got := run("", "credential_on_encoder_is_empty", ""); *got.Scan.ACSCredentialOnEncoder.IsIssued || got.Scan.ACSCredentialOnSeam != nil {
		t.Errorf("credential_on_encoder_is_empty: %+v", got.Scan)
	}
	if got := run(seam.ErrNoCredentialOnEncoder, "", ""); got.Status != seam.StatusError || got.Error.Type != seam.ErrNoCredentialOnEncoder {
		t.Errorf("error_code no_credential_on_encoder: %s %+v", got.Status, got.Error)
	}
	if err := svc.SimulateNextScan(ctx, r.ws.ID, enc, "", "", "11111111-2222-4333-8444-555555555555"); err == nil {
		t.Error("a simulation naming an unknown credential was accepted")
	}
}
