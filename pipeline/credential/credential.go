package credential

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/google/uuid"
)

// Card function types of a visionline_card credential.
const (
	FunctionGuest = "guest"
	FunctionStaff = "staff"
)

// WaitingToBeIssuedMessage is the message of the warning a new card
// credential carries until a card holds it.
const WaitingToBeIssuedMessage = "Credential has not been encoded onto a card yet; encode it with an encoder."

// CreateParams are the parameters of /acs/credentials/create that shape a
// credential. Optional parameters are nil or empty when not given.
type CreateParams struct {
	// AccessMethod is seam.AccessCard, AccessCode or AccessMobileKey.
	AccessMethod string
	// Code is the PIN of a code credential; required for, and only for,
	// access_method code.
	Code *string
	// IsMultiPhoneSyncCredential applies to mobile keys only.
	IsMultiPhoneSyncCredential *bool
	// StartsAt and EndsAt are ISO 8601 datetimes; EndsAt must be in the
	// future and after StartsAt.
	StartsAt, EndsAt string
	// CardFunctionType is visionline_metadata.card_function_type: guest
	// (the default) or staff. Visionline systems only.
	CardFunctionType string
	// AutoJoin is visionline_metadata.auto_join. Visionline systems only.
	AutoJoin *bool
}

// New makes a credential of user in sys, in workspace ws, created at now.
// Parameters a client got wrong yield a *seam.Error (invalid_input).
func New(ws *fixtures.Workspace, sys *fixtures.System, user *fixtures.User, p CreateParams, now time.Time) (*seam.Credential, error) {
	if ws == nil || sys == nil || user == nil {
		return nil, errors.New("credential: workspace, system and user are required")
	}
	switch p.AccessMethod {
	case seam.AccessCard, seam.AccessCode, seam.AccessMobileKey:
	case "":
		return nil, seam.InvalidInput("access_method is required")
	default:
		return nil, seam.InvalidInput("access_method %q is not one of code, card, mobile_key", p.AccessMethod)
	}
	if p.AccessMethod == seam.AccessCode {
		if p.Code == nil {
			return nil, seam.InvalidInput("code is required when access_method is code")
		}
		if !isPIN(*p.Code) {
			return nil, seam.InvalidInput("code must be 4 to 12 digits")
		}
	} else if p.Code != nil {
		return nil, seam.InvalidInput("code applies only when access_method is code")
	}
	if p.IsMultiPhoneSyncCredential != nil && *p.IsMultiPhoneSyncCredential && p.AccessMethod != seam.AccessMobileKey {
		return nil, seam.InvalidInput("is_multi_phone_sync_credential applies only when access_method is mobile_key")
	}
	startsAt, endsAt, err := validity(p.StartsAt, p.EndsAt, now)
	if err != nil {
		return nil, err
	}

	created := seam.At(now)
	c := &seam.Credential{
		ACSCredentialID:            uuid.NewString(),
		ACSSystemID:                sys.ID,
		ACSUserID:                  user.ID,
		ConnectedAccountID:         ws.ConnectedAccountID,
		AccessMethod:               p.AccessMethod,
		CreatedAt:                  created,
		DisplayName:                displayName(sys, p),
		EndsAt:                     endsAt,
		Errors:                     []seam.CredentialError{},
		ExternalType:               sys.ExternalType,
		ExternalTypeDisplayName:    sys.ExternalTypeDisplayName,
		IsManaged:                  true,
		IsMultiPhoneSyncCredential: p.IsMultiPhoneSyncCredential,
		StartsAt:                   startsAt,
		Warnings:                   []seam.CredentialWarning{},
		WorkspaceID:                ws.ID,
	}
	if p.AccessMethod == seam.AccessCode {
		code := *p.Code
		c.Code = &code
	}
	if p.AccessMethod == seam.AccessCard {
		c.IsIssued = new(bool)
		c.Warnings = append(c.Warnings, seam.CredentialWarning{
			CreatedAt:   created,
			Message:     WaitingToBeIssuedMessage,
			WarningCode: seam.WarnWaitingToBeIssued,
		})
	}

	switch sys.ExternalType {
	case seam.ExtVisionlineCard:
		fn := p.CardFunctionType
		switch fn {
		case "":
			fn = FunctionGuest
		case FunctionGuest, FunctionStaff:
		default:
			return nil, seam.InvalidInput("visionline_metadata.card_function_type %q is not one of guest, staff", fn)
		}
		c.VisionlineMetadata = &seam.VisionlineMetadata{CardFunctionType: fn, AutoJoin: p.AutoJoin}
	case seam.ExtAssaAbloyVostioKey:
		c.AssaAbloyVostioMetadata = &seam.VostioMetadata{}
	}
	if c.VisionlineMetadata == nil && (p.CardFunctionType != "" || p.AutoJoin != nil) {
		return nil, seam.InvalidInput("visionline_metadata applies only to systems of external type %s; acs system %s is %s",
			seam.ExtVisionlineCard, sys.ID, sys.ExternalType)
	}
	return c, nil
}

// isPIN reports whether s is a PIN code a keypad accepts.
func isPIN(s string) bool {
	if len(s) < 4 || len(s) > 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// displayName is the credential's display_name, never empty: the code of
// a code credential, else the system's name for its credentials.
func displayName(sys *fixtures.System, p CreateParams) string {
	if p.AccessMethod == seam.AccessCode {
		return *p.Code
	}
	if sys.ExternalTypeDisplayName != "" {
		return sys.ExternalTypeDisplayName
	}
	if p.AccessMethod == seam.AccessMobileKey {
		return "Mobile Key"
	}
	return "Card"
}

// validity parses and checks starts_at and ends_at, returning them in
// seam.TimeLayout (empty when not given).
func validity(startsAt, endsAt string, now time.Time) (string, string, error) {
	var start, end time.Time
	var err error
	if startsAt != "" {
		if start, err = parseTime("starts_at", startsAt); err != nil {
			return "", "", err
		}
	}
	if endsAt != "" {
		if end, err = parseTime("ends_at", endsAt); err != nil {
			return "", "", err
		}
		if !end.After(now) {
			return "", "", seam.InvalidInput("ends_at %s must be in the future", endsAt)
		}
		if startsAt != "" && !end.After(start) {
			return "", "", seam.InvalidInput("ends_at %s must be after starts_at %s", endsAt, startsAt)
		}
	}
	format := func(t time.Time, given string) string {
		if given == "" {
			return ""
		}
		return seam.At(t).String()
	}
	return format(start, startsAt), format(end, endsAt), nil
}

func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, seam.InvalidInput("%s %q is not an ISO 8601 datetime such as %q", name, s, seam.TimeLayout)
	}
	return t, nil
}

// Issue returns c as it is once card holds it, leaving c unchanged: issued
// at now with the card's number, synced with the provider, without the
// warnings that asked for a card, and with the card id in the system's
// metadata.
func Issue(c *seam.Credential, card driver.Card, now time.Time) *seam.Credential {
	out := clone(c)
	at := seam.At(now)
	issued, synced := true, true
	number := card.Number
	out.IsIssued = &issued
	out.IssuedAt = &at
	syncedAt := at
	out.IsLatestDesiredStateSyncedWithProvider = &synced
	out.LatestDesiredStateSyncedWithProviderAt = &syncedAt
	out.CardNumber = &number
	warnings := make([]seam.CredentialWarning, 0, len(out.Warnings))
	for _, w := range out.Warnings {
		if w.WarningCode != seam.WarnWaitingToBeIssued && w.WarningCode != seam.WarnNeedsToBeReissued {
			warnings = append(warnings, w)
		}
	}
	out.Warnings = warnings
	if m := out.VisionlineMetadata; m != nil {
		valid := true
		m.CardID = card.CardID
		m.CredentialID = card.CardID
		m.IsValid = &valid
	}
	if m := out.AssaAbloyVostioMetadata; m != nil {
		m.KeyID = card.CardID
		m.KeyIssuingRequestID = uuid.NewString()
	}
	return out
}

// clone deep-copies c so that changing the copy never reaches c.
func clone(c *seam.Credential) *seam.Credential {
	out := *c
	out.CardNumber = clonePtr(c.CardNumber)
	out.Code = clonePtr(c.Code)
	out.IsIssued = clonePtr(c.IsIssued)
	out.IsLatestDesiredStateSyncedWithProvider = clonePtr(c.IsLatestDesiredStateSyncedWithProvider)
	out.IsMultiPhoneSyncCredential = clonePtr(c.IsMultiPhoneSyncCredential)
	out.IsOneTimeUse = clonePtr(c.IsOneTimeUse)
	out.IssuedAt = clonePtr(c.IssuedAt)
	out.LatestDesiredStateSyncedWithProviderAt = clonePtr(c.LatestDesiredStateSyncedWithProviderAt)
	out.Errors = append([]seam.CredentialError{}, c.Errors...)
	out.Warnings = append([]seam.CredentialWarning{}, c.Warnings...)
	if m := c.VisionlineMetadata; m != nil {
		v := *m
		v.AutoJoin = clonePtr(m.AutoJoin)
		v.IsValid = clonePtr(m.IsValid)
		v.CommonACSEntranceIDs = cloneSlice(m.CommonACSEntranceIDs)
		v.GuestACSEntranceIDs = cloneSlice(m.GuestACSEntranceIDs)
		v.JoinerACSCredentialIDs = cloneSlice(m.JoinerACSCredentialIDs)
		out.VisionlineMetadata = &v
	}
	if m := c.AssaAbloyVostioMetadata; m != nil {
		v := *m
		v.DoorNames = cloneSlice(m.DoorNames)
		v.OverrideGuestACSEntranceIDs = cloneSlice(m.OverrideGuestACSEntranceIDs)
		out.AssaAbloyVostioMetadata = &v
	}
	return &out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneSlice copies s, keeping nil as nil so omitted lists stay omitted.
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}

// CardID is the id the lock system knows the card of credential
// credentialID by: 16 upper-case hex digits, the first 8 bytes of the
// SHA-256 of the credential id in lower case, so any spelling of the same
// UUID gives the same card id.
func CardID(credentialID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(credentialID)))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// Job is what a driver writes onto a card for c. A datetime that does not
// parse (c did not come from New) leaves that bound open.
func Job(c *seam.Credential) driver.Job {
	j := driver.Job{
		CardID:   CardID(c.ACSCredentialID),
		Function: driver.Guest,
		Label:    c.DisplayName,
	}
	if m := c.VisionlineMetadata; m != nil && m.CardFunctionType == FunctionStaff {
		j.Function = driver.Staff
	}
	if t, err := time.Parse(time.RFC3339Nano, c.StartsAt); err == nil {
		j.StartsAt = t.UTC()
	}
	if t, err := time.Parse(time.RFC3339Nano, c.EndsAt); err == nil {
		j.EndsAt = t.UTC()
	}
	return j
}

// UpdateParams are what /acs/credentials/update changes; nil leaves a
// field as it is.
type UpdateParams struct {
	// Code replaces a code credential's PIN: digits only.
	Code *string
	// EndsAt replaces the end of the validity: in the future and after
	// starts_at, as at creation.
	EndsAt *string
}

// Update returns c with p applied at now, leaving c unchanged. An issued
// card whose validity changed warns needs_to_be_reissued: the card holds
// the validity it was written with until it is encoded again (Issue
// drops the warning then).
func Update(c *seam.Credential, p UpdateParams, now time.Time) (*seam.Credential, error) {
	out := clone(c)
	if p.Code != nil {
		if c.AccessMethod != seam.AccessCode {
			return nil, seam.InvalidInput("code applies to a credential whose access_method is code; credential %s is %s", c.ACSCredentialID, c.AccessMethod)
		}
		if *p.Code == "" || strings.Trim(*p.Code, "0123456789") != "" {
			return nil, seam.InvalidInput("code %q must be digits only", *p.Code)
		}
		code := *p.Code
		out.Code = &code
	}
	if p.EndsAt != nil {
		_, end, err := validity(c.StartsAt, *p.EndsAt, now)
		if err != nil {
			return nil, err
		}
		if end != c.EndsAt && c.IsIssued != nil && *c.IsIssued && c.AccessMethod == seam.AccessCard &&
			!slices.ContainsFunc(out.Warnings, func(w seam.CredentialWarning) bool { return w.WarningCode == seam.WarnNeedsToBeReissued }) {
			out.Warnings = append(out.Warnings, seam.CredentialWarning{
				WarningCode: seam.WarnNeedsToBeReissued, CreatedAt: seam.At(now),
				Message: "The card holds the validity it was encoded with; encode the credential again to write the new ends_at.",
			})
		}
		out.EndsAt = end
	}
	return out, nil
}
