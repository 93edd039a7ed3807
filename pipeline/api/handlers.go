package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

func (s *server) encodeCredential(ctx context.Context, rq request) (result, error) {
	p := rq.params
	var credID string
	methodID, byMethod := "", false
	if rq.profile == seam.ProfileLatest {
		// The published schema encodes a credential or an access method.
		methodID, byMethod = p.optionalUUID("access_method_id")
		_, _, credGiven := p.scalar("acs_credential_id")
		switch {
		case byMethod && credGiven:
			p.invalidWhole("give acs_credential_id or access_method_id, not both")
		case !byMethod:
			credID = p.requiredUUID("acs_credential_id")
		}
	} else {
		credID = p.requiredUUID("acs_credential_id")
	}
	encID := p.requiredUUID("acs_encoder_id")
	if err := p.problems(); err != nil {
		return nil, err
	}
	if byMethod {
		// Access methods come from Access Grants, which the lab does not
		// have: no id names one.
		return nil, &seam.Error{Status: http.StatusNotFound, Type: "access_method_not_found", Message: fmt.Sprintf(
			"access method %s not found: encoderd has no access grants, so no access methods; encode a credential by acs_credential_id", methodID)}
	}
	a, err := s.encoding.Encode(ctx, rq.ws.ID, credID, encID)
	if err != nil {
		return nil, fmt.Errorf("encode credential %s on encoder %s: %w", credID, encID, err)
	}
	if a == nil {
		return nil, fmt.Errorf("encode credential %s on encoder %s: no action attempt", credID, encID)
	}
	return result{"action_attempt": attemptOut(a, rq.profile)}, nil
}

func (s *server) scanCredential(ctx context.Context, rq request) (result, error) {
	encID := rq.params.requiredUUID("acs_encoder_id")
	_, _ = rq.params.object("salto_ks_metadata") // no Salto KS system in the lab: nothing to detect
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	a, err := s.encoding.Scan(ctx, rq.ws.ID, encID)
	if err != nil {
		return nil, fmt.Errorf("scan on encoder %s: %w", encID, err)
	}
	if a == nil {
		return nil, fmt.Errorf("scan on encoder %s: no action attempt", encID)
	}
	return result{"action_attempt": attemptOut(a, rq.profile)}, nil
}

// The scenarios of next_credential_scan_will_succeed: the first (the
// default) and the second take acs_credential_id_on_seam, the others not.
var scanScenarios = []string{"credential_exists_on_seam", "credential_on_encoder_needs_update", "credential_does_not_exist_on_seam", "credential_on_encoder_is_empty"}

func (s *server) simulateScanSuccess(ctx context.Context, rq request) (result, error) {
	if err := sandboxOnly(rq.ws); err != nil {
		return nil, err
	}
	p := rq.params
	p.only("acs_encoder_id", "scenario", "acs_credential_id_on_seam")
	encID := p.requiredUUID("acs_encoder_id")
	scenario := p.oneOf("scenario", scanScenarios[0], scanScenarios...)
	credID, credGiven := p.optionalUUID("acs_credential_id_on_seam")
	if credGiven && !slices.Contains(scanScenarios[:2], scenario) {
		p.invalid("acs_credential_id_on_seam", "does not apply to scenario %s", scenario)
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	if err := s.encoding.SimulateNextScan(ctx, rq.ws.ID, encID, "", scenario, credID); err != nil {
		return nil, fmt.Errorf("simulate scan on encoder %s: %w", encID, err)
	}
	return result{}, nil
}

func (s *server) simulateScanFailure(ctx context.Context, rq request) (result, error) {
	if err := sandboxOnly(rq.ws); err != nil {
		return nil, err
	}
	p := rq.params
	p.only("acs_encoder_id", "error_code", "acs_credential_id_on_seam")
	encID := p.requiredUUID("acs_encoder_id")
	code := p.oneOf("error_code", seam.ErrNoCredentialOnEncoder, seam.ErrNoCredentialOnEncoder, seam.ErrUncategorized, seam.ErrActionAttemptExpired)
	credID, credGiven := p.optionalUUID("acs_credential_id_on_seam")
	if credGiven && code == seam.ErrNoCredentialOnEncoder {
		p.invalid("acs_credential_id_on_seam", "does not apply to error_code %s", code)
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	if err := s.encoding.SimulateNextScan(ctx, rq.ws.ID, encID, code, "", credID); err != nil {
		return nil, fmt.Errorf("simulate scan failure on encoder %s: %w", encID, err)
	}
	return result{}, nil
}

func (s *server) getActionAttempt(ctx context.Context, rq request) (result, error) {
	id := rq.params.requiredUUID("action_attempt_id")
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	a, err := s.encoding.Attempt(ctx, rq.ws.ID, id)
	if err != nil {
		return nil, fmt.Errorf("action attempt %s: %w", id, err)
	}
	if a == nil {
		return nil, fmt.Errorf("action attempt %s: none returned", id)
	}
	return result{"action_attempt": attemptOut(a, rq.profile)}, nil
}

func (s *server) listEncoders(_ context.Context, rq request) (result, error) {
	p := rq.params
	systemID, oneSystem := p.optionalUUID("acs_system_id")
	systemIDs := p.uuidList("acs_system_ids")
	encoderIDs := p.uuidList("acs_encoder_ids")
	pg := p.page()
	if rq.profile == seam.ProfileLatest && !oneSystem && systemIDs == nil && encoderIDs == nil {
		// The published request schema is a oneOf of the three filters.
		p.invalidWhole("give one of acs_system_id, acs_system_ids or acs_encoder_ids")
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	matched := []seam.Encoder{}
	for _, e := range s.encoders.Encoders(rq.ws.ID) {
		switch {
		case oneSystem && e.ACSSystemID != systemID,
			systemIDs != nil && !slices.Contains(systemIDs, e.ACSSystemID),
			encoderIDs != nil && !slices.Contains(encoderIDs, e.ACSEncoderID):
			continue
		}
		matched = append(matched, encoderOut(e))
	}
	out, next, err := paginate(matched, func(e seam.Encoder) string { return e.ACSEncoderID }, pg)
	if err != nil {
		return nil, err
	}
	return result{"acs_encoders": out, "pagination": next}, nil
}

func (s *server) getEncoder(_ context.Context, rq request) (result, error) {
	id := rq.params.requiredUUID("acs_encoder_id")
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	e, ok := s.encoders.Encoder(rq.ws.ID, id)
	if !ok {
		return nil, seam.NotFound("acs_encoder", id)
	}
	return result{"acs_encoder": encoderOut(e)}, nil
}

func (s *server) createCredential(ctx context.Context, rq request) (result, error) {
	p := rq.params
	userID := p.requiredUUID("acs_user_id")
	method := p.requiredString("access_method")
	systemID, systemGiven := p.optionalUUID("acs_system_id")
	cp := credential.CreateParams{AccessMethod: method}
	if code, ok := p.string("code"); ok {
		cp.Code = &code
	}
	cp.IsMultiPhoneSyncCredential = p.bool("is_multi_phone_sync_credential")
	cp.StartsAt, _ = p.string("starts_at")
	cp.EndsAt, _ = p.string("ends_at")
	if vm, ok := p.object("visionline_metadata"); ok {
		cp.CardFunctionType, _ = vm.string("card_function_type")
		cp.AutoJoin = vm.bool("auto_join")
	}
	if err := p.problems(); err != nil {
		return nil, err
	}

	sys, user := rq.ws.UserByID(userID)
	if user == nil {
		return nil, seam.NotFound("acs_user", userID)
	}
	if systemGiven && systemID != sys.ID {
		if rq.ws.SystemByID(systemID) == nil {
			return nil, seam.NotFound("acs_system", systemID)
		}
		return nil, seam.InvalidInput("acs_user %s belongs to acs_system %s, not %s", userID, sys.ID, systemID)
	}
	c, err := credential.New(rq.ws, sys, user, cp, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.PutCredential(ctx, c); err != nil {
		return nil, fmt.Errorf("store new credential: %w", err)
	}
	return result{"acs_credential": credentialOut(c)}, nil
}

func (s *server) getCredential(ctx context.Context, rq request) (result, error) {
	id := rq.params.requiredUUID("acs_credential_id")
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	c, err := s.store.GetCredential(ctx, rq.ws.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("acs_credential", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get credential %s: %w", id, err)
	}
	return result{"acs_credential": credentialOut(c)}, nil
}

func (s *server) deleteCredential(ctx context.Context, rq request) (result, error) {
	id := rq.params.requiredUUID("acs_credential_id")
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	c, err := s.store.GetCredential(ctx, rq.ws.ID, id)
	if err == nil {
		now := seam.At(s.now())
		err = s.store.DeleteCredential(ctx, rq.ws.ID, id, &seam.Event{
			EventID: uuid.NewString(), EventType: seam.EventCredentialDeleted, WorkspaceID: rq.ws.ID,
			CreatedAt: now, OccurredAt: now, ACSSystemID: c.ACSSystemID, ACSCredentialID: id,
			ConnectedAccountID: rq.ws.ConnectedAccountID, EventDescription: "The credential was deleted.",
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("acs_credential", id)
	}
	if err != nil {
		return nil, fmt.Errorf("delete credential %s: %w", id, err)
	}
	return result{}, nil
}

// credentialUpdater is a store that updates credentials itself, in step
// with the encodes that write them (the pipeline's view of its store).
type credentialUpdater interface {
	UpdateCredential(ctx context.Context, workspaceID, credentialID string, p credential.UpdateParams) (*seam.Credential, error)
}

func (s *server) updateCredential(ctx context.Context, rq request) (result, error) {
	p := rq.params
	id := p.requiredUUID("acs_credential_id")
	var up credential.UpdateParams
	if code, ok := p.string("code"); ok {
		up.Code = &code
	}
	if end, ok := p.string("ends_at"); ok {
		up.EndsAt = &end
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	var c *seam.Credential
	var err error
	if u, ok := s.store.(credentialUpdater); ok {
		c, err = u.UpdateCredential(ctx, rq.ws.ID, id, up)
	} else {
		c, err = s.store.GetCredential(ctx, rq.ws.ID, id)
		if err == nil {
			if c, err = credential.Update(c, up, s.now()); err == nil {
				err = s.store.PutCredential(ctx, c)
			}
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("acs_credential", id)
	}
	if err != nil {
		return nil, fmt.Errorf("update credential %s: %w", id, err)
	}
	return result{"acs_credential": credentialOut(c)}, nil
}

func (s *server) listCredentials(ctx context.Context, rq request) (result, error) {
	p := rq.params
	var f store.CredentialFilter
	f.ACSUserID, _ = p.optionalUUID("acs_user_id")
	f.ACSSystemID, _ = p.optionalUUID("acs_system_id")
	// No lab user has a user identity: a filter by one matches nothing.
	_, byIdentity := p.optionalUUID("user_identity_id")
	before, byTime := p.string("created_before")
	pg := p.page()
	var cutoff time.Time
	if byTime {
		var err error
		if cutoff, err = time.Parse(time.RFC3339Nano, before); err != nil {
			p.invalid("created_before", "%q is not an ISO 8601 date and time", before)
		}
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	cs, err := s.store.ListCredentials(ctx, rq.ws.ID, f)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	out := make([]*seam.Credential, 0, len(cs))
	for _, c := range cs {
		if byIdentity || (byTime && !c.CreatedAt.Before(cutoff)) {
			continue
		}
		out = append(out, credentialOut(c))
	}
	items, next, err := paginate(out, func(c *seam.Credential) string { return c.ACSCredentialID }, pg)
	if err != nil {
		return nil, err
	}
	return result{"acs_credentials": items, "pagination": next}, nil
}

func (s *server) listActionAttempts(ctx context.Context, rq request) (result, error) {
	p := rq.params
	ids := p.uuidList("action_attempt_ids")
	_, byDevice := p.optionalUUID("device_id")
	pg := p.page()
	if ids == nil && !byDevice {
		p.invalid("action_attempt_ids", "is required: encoderd lists action attempts by id")
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	// An encoder is no device: a device_id names none of its attempts.
	out := []*seam.ActionAttempt{}
	for _, id := range ids {
		if byDevice || slices.ContainsFunc(out, func(a *seam.ActionAttempt) bool { return a.ActionAttemptID == id }) {
			continue
		}
		a, err := s.encoding.Attempt(ctx, rq.ws.ID, id)
		var se *seam.Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			continue // Seam lists the attempts it has of those asked for
		}
		if err != nil {
			return nil, fmt.Errorf("action attempt %s: %w", id, err)
		}
		out = append(out, attemptOut(a, rq.profile))
	}
	items, next, err := paginate(out, func(a *seam.ActionAttempt) string { return a.ActionAttemptID }, pg)
	if err != nil {
		return nil, err
	}
	return result{"action_attempts": items, "pagination": next}, nil
}

// scenarioCredentialIsIssued is the one scenario the success control knows.
const scenarioCredentialIsIssued = "credential_is_issued"

// sandboxOnly refuses the simulate routes outside sandbox workspaces, as
// Seam does: elsewhere they would let any key of the workspace make the
// next real encode "succeed" without a card.
func sandboxOnly(ws *fixtures.Workspace) error {
	if ws.Sandbox {
		return nil
	}
	return &seam.Error{Status: http.StatusBadRequest, Type: typeSandboxOnly, Message: fmt.Sprintf(
		"workspace %s is not a sandbox workspace: the simulate routes work only in one (lab: sandbox: true)", ws.ID)}
}

const typeSandboxOnly = "sandbox_only"

func (s *server) simulateSuccess(ctx context.Context, rq request) (result, error) {
	if err := sandboxOnly(rq.ws); err != nil {
		return nil, err
	}
	p := rq.params
	p.only("acs_encoder_id", "scenario")
	encID := p.requiredUUID("acs_encoder_id")
	p.oneOf("scenario", scenarioCredentialIsIssued, scenarioCredentialIsIssued)
	if err := p.problems(); err != nil {
		return nil, err
	}
	if err := s.encoding.SimulateNext(ctx, rq.ws.ID, encID, ""); err != nil {
		return nil, fmt.Errorf("simulate success on encoder %s: %w", encID, err)
	}
	return result{}, nil
}

// simulatableFailures are the error_code values of
// next_credential_encode_will_fail by profile. Seam's request schema
// (@seamapi/types 1.977.0) is a union: no card or an interrupted encode,
// for which acs_credential_id does not apply, or uncategorized_error and
// action_attempt_expired, which may name it.
func simulatableFailures(p seam.Profile) (withoutCredential, withCredential []string) {
	withoutCredential = []string{seam.ErrNoCredentialOnEncoder}
	if p == seam.ProfileLatest {
		withoutCredential = append(withoutCredential, seam.ErrEncodingInterrupted)
	}
	return withoutCredential, []string{seam.ErrUncategorized, seam.ErrActionAttemptExpired}
}

func (s *server) simulateFailure(ctx context.Context, rq request) (result, error) {
	if err := sandboxOnly(rq.ws); err != nil {
		return nil, err
	}
	p := rq.params
	p.only("acs_encoder_id", "error_code", "acs_credential_id")
	encID := p.requiredUUID("acs_encoder_id")
	without, with := simulatableFailures(rq.profile)
	code := p.oneOf("error_code", seam.ErrNoCredentialOnEncoder, slices.Concat(without, with)...)
	credID, credGiven := p.optionalUUID("acs_credential_id")
	if credGiven && slices.Contains(without, code) {
		p.invalid("acs_credential_id", "does not apply to error_code %s", code)
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	if credGiven {
		// The credential only has to exist; the failure applies to the
		// encoder's next encode whatever it encodes.
		if _, err := s.store.GetCredential(ctx, rq.ws.ID, credID); errors.Is(err, store.ErrNotFound) {
			return nil, seam.NotFound("acs_credential", credID)
		} else if err != nil {
			return nil, fmt.Errorf("get credential %s: %w", credID, err)
		}
	}
	if err := s.encoding.SimulateNext(ctx, rq.ws.ID, encID, code); err != nil {
		return nil, fmt.Errorf("simulate %s on encoder %s: %w", code, encID, err)
	}
	return result{}, nil
}

// The *Out functions keep the wire rule that lists are never null, even
// when a producer left one nil.

func encoderOut(e seam.Encoder) seam.Encoder {
	if e.Errors == nil {
		e.Errors = []seam.EncoderError{}
	}
	return e
}

func credentialOut(c *seam.Credential) *seam.Credential {
	if c == nil || (c.Errors != nil && c.Warnings != nil) {
		return c
	}
	out := *c
	if out.Errors == nil {
		out.Errors = []seam.CredentialError{}
	}
	if out.Warnings == nil {
		out.Warnings = []seam.CredentialWarning{}
	}
	return &out
}

// attemptOut is also where a workspace of an older profile sees the
// error type its revision has (seam.Profile.ErrorType).
func attemptOut(a *seam.ActionAttempt, p seam.Profile) *seam.ActionAttempt {
	if a == nil {
		return a
	}
	out := *a
	if a.Result != nil {
		out.Result = credentialOut(a.Result)
	}
	if a.Error != nil && !p.Knows(a.Error.Type) {
		out.Error = &seam.ActionAttemptErr{Type: p.ErrorType(a.Error.Type), Message: a.Error.Message}
	}
	return &out
}
