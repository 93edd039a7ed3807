package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

func (s *server) encodeCredential(ctx context.Context, rq request) (result, error) {
	credID, err := rq.params.requiredUUID("acs_credential_id")
	if err != nil {
		return nil, err
	}
	encID, err := rq.params.requiredUUID("acs_encoder_id")
	if err != nil {
		return nil, err
	}
	a, err := s.encoding.Encode(ctx, rq.ws.ID, credID, encID)
	if err != nil {
		return nil, fmt.Errorf("encode credential %s on encoder %s: %w", credID, encID, err)
	}
	if a == nil {
		return nil, fmt.Errorf("encode credential %s on encoder %s: no action attempt", credID, encID)
	}
	return result{"action_attempt": attemptOut(a)}, nil
}

func (s *server) getActionAttempt(ctx context.Context, rq request) (result, error) {
	id, err := rq.params.requiredUUID("action_attempt_id")
	if err != nil {
		return nil, err
	}
	a, err := s.encoding.Attempt(ctx, rq.ws.ID, id)
	if err != nil {
		return nil, fmt.Errorf("action attempt %s: %w", id, err)
	}
	if a == nil {
		return nil, fmt.Errorf("action attempt %s: none returned", id)
	}
	return result{"action_attempt": attemptOut(a)}, nil
}

func (s *server) listEncoders(_ context.Context, rq request) (result, error) {
	p := rq.params
	systemID, oneSystem, err := p.optionalUUID("acs_system_id")
	if err != nil {
		return nil, err
	}
	systemIDs, err := p.uuidList("acs_system_ids")
	if err != nil {
		return nil, err
	}
	encoderIDs, err := p.uuidList("acs_encoder_ids")
	if err != nil {
		return nil, err
	}
	limit, limited, err := p.positiveInt("limit")
	if err != nil {
		return nil, err
	}
	cursor, paged, err := p.string("page_cursor")
	if err != nil {
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
	start := 0
	if paged {
		if start = slices.IndexFunc(matched, func(e seam.Encoder) bool { return pageCursor(e.ACSEncoderID) == cursor }); start < 0 {
			return nil, seam.InvalidInput("page_cursor %q is not a cursor this list gave", cursor)
		}
	}
	end := len(matched)
	if limited && limit < end-start {
		end = start + limit
	}
	pg := pagination{}
	if end < len(matched) {
		pg.HasNextPage = true
		next := pageCursor(matched[end].ACSEncoderID)
		pg.NextPageCursor = &next
	}
	return result{"acs_encoders": matched[start:end], "pagination": pg}, nil
}

// pagination is a list answer's pagination object; Seam's SDKs need it to
// page through a list (their paginators fail without it).
type pagination struct {
	HasNextPage    bool    `json:"has_next_page"`
	NextPageCursor *string `json:"next_page_cursor"`
	// NextPageURL is always null: the cursor is enough to ask for the
	// next page, and Seam's schemas allow null.
	NextPageURL *string `json:"next_page_url"`
}

// pageCursor is the opaque cursor of the page that starts at the item
// with that id.
func pageCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (s *server) getEncoder(_ context.Context, rq request) (result, error) {
	id, err := rq.params.requiredUUID("acs_encoder_id")
	if err != nil {
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
	userID, err := p.requiredUUID("acs_user_id")
	if err != nil {
		return nil, err
	}
	method, ok, err := p.string("access_method")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, seam.InvalidInput("access_method is required")
	}
	systemID, systemGiven, err := p.optionalUUID("acs_system_id")
	if err != nil {
		return nil, err
	}
	cp := credential.CreateParams{AccessMethod: method}
	if code, ok, err := p.string("code"); err != nil {
		return nil, err
	} else if ok {
		cp.Code = &code
	}
	if cp.IsMultiPhoneSyncCredential, err = p.bool("is_multi_phone_sync_credential"); err != nil {
		return nil, err
	}
	if cp.StartsAt, _, err = p.string("starts_at"); err != nil {
		return nil, err
	}
	if cp.EndsAt, _, err = p.string("ends_at"); err != nil {
		return nil, err
	}
	if vm, ok, err := p.object("visionline_metadata"); err != nil {
		return nil, err
	} else if ok {
		if cp.CardFunctionType, _, err = vm.string("card_function_type"); err != nil {
			return nil, err
		}
		if cp.AutoJoin, err = vm.bool("auto_join"); err != nil {
			return nil, err
		}
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
	id, err := rq.params.requiredUUID("acs_credential_id")
	if err != nil {
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

func (s *server) listCredentials(ctx context.Context, rq request) (result, error) {
	var f store.CredentialFilter
	var err error
	if f.ACSUserID, _, err = rq.params.optionalUUID("acs_user_id"); err != nil {
		return nil, err
	}
	if f.ACSSystemID, _, err = rq.params.optionalUUID("acs_system_id"); err != nil {
		return nil, err
	}
	cs, err := s.store.ListCredentials(ctx, rq.ws.ID, f)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	out := make([]*seam.Credential, 0, len(cs))
	for _, c := range cs {
		out = append(out, credentialOut(c))
	}
	// Every match is on the one page.
	return result{"acs_credentials": out, "pagination": pagination{}}, nil
}

// scenarioCredentialIsIssued is the one scenario the success control knows.
const scenarioCredentialIsIssued = "credential_is_issued"

func (s *server) simulateSuccess(ctx context.Context, rq request) (result, error) {
	encID, err := rq.params.requiredUUID("acs_encoder_id")
	if err != nil {
		return nil, err
	}
	if sc, ok, err := rq.params.string("scenario"); err != nil {
		return nil, err
	} else if ok && sc != scenarioCredentialIsIssued {
		return nil, seam.InvalidInput("scenario %q is not %q", sc, scenarioCredentialIsIssued)
	}
	if err := s.encoding.SimulateNext(ctx, rq.ws.ID, encID, ""); err != nil {
		return nil, fmt.Errorf("simulate success on encoder %s: %w", encID, err)
	}
	return result{}, nil
}

func (s *server) simulateFailure(ctx context.Context, rq request) (result, error) {
	p := rq.params
	encID, err := p.requiredUUID("acs_encoder_id")
	if err != nil {
		return nil, err
	}
	code, ok, err := p.string("error_code")
	if err != nil {
		return nil, err
	}
	if !ok {
		code = seam.ErrNoCredentialOnEncoder
	}
	credID, credGiven, err := p.optionalUUID("acs_credential_id")
	if err != nil {
		return nil, err
	}
	switch code {
	case seam.ErrNoCredentialOnEncoder:
		if credGiven {
			return nil, seam.InvalidInput("acs_credential_id does not apply to error_code %s", code)
		}
	case seam.ErrUncategorized, seam.ErrActionAttemptExpired:
	default:
		return nil, seam.InvalidInput("error_code %q is not one of %s, %s, %s",
			code, seam.ErrNoCredentialOnEncoder, seam.ErrUncategorized, seam.ErrActionAttemptExpired)
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

func attemptOut(a *seam.ActionAttempt) *seam.ActionAttempt {
	if a == nil || a.Result == nil {
		return a
	}
	out := *a
	out.Result = credentialOut(a.Result)
	return &out
}
