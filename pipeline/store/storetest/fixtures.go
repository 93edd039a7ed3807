package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// base is the time fixtures are created around: a whole millisecond in
// UTC, so a store that keeps only milliseconds still returns it unchanged.
var base = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// newCredential returns a credential with every kind of field set (nested
// pointers, slices, metadata), so that a store which shares memory with
// its caller, or drops a field, shows it.
func newCredential(workspace, id, system, user string, created time.Time) *seam.Credential {
	card := "0042-" + id
	yes, no := true, false
	return &seam.Credential{
		ACSCredentialID:                        id,
		ACSSystemID:                            system,
		ACSUserID:                              user,
		AccessMethod:                           seam.AccessCard,
		CardNumber:                             &card,
		CreatedAt:                              seam.At(created),
		DisplayName:                            "Card " + id,
		EndsAt:                                 "2025-03-08T11:00:00.000Z",
		Errors:                                 []seam.CredentialError{},
		ExternalType:                           seam.ExtVisionlineCard,
		ExternalTypeDisplayName:                "Visionline Card",
		IsIssued:                               &no,
		IsLatestDesiredStateSyncedWithProvider: &yes,
		IsManaged:                              true,
		IssuedAt:                               nil,
		StartsAt:                               "2025-03-01T15:00:00.000Z",
		VisionlineMetadata: &seam.VisionlineMetadata{
			CardFunctionType:     "guest",
			GuestACSEntranceIDs:  []string{"entrance-101", "entrance-lobby"},
			CommonACSEntranceIDs: []string{"entrance-pool"},
		},
		Warnings: []seam.CredentialWarning{{
			CreatedAt:   seam.At(created),
			Message:     "waiting to be issued",
			WarningCode: seam.WarnWaitingToBeIssued,
		}},
		WorkspaceID: workspace,
	}
}

// issued returns a copy of c as it is after a successful encode.
func issued(c *seam.Credential, when time.Time) *seam.Credential {
	out := cloneCredential(c)
	yes := true
	out.IsIssued = &yes
	out.IssuedAt = seam.TimePtr(when)
	out.Warnings = []seam.CredentialWarning{}
	out.VisionlineMetadata.CardID = "card-" + c.ACSCredentialID
	return out
}

// newAttempt returns a pending attempt created at created, expiring a
// minute later.
func newAttempt(workspace, id, encoder, credential string, created time.Time) *store.Attempt {
	return &store.Attempt{
		ID:           id,
		WorkspaceID:  workspace,
		EncoderID:    encoder,
		CredentialID: credential,
		Status:       seam.StatusPending,
		CreatedAt:    created,
		Deadline:     created.Add(time.Minute),
	}
}

// succeeded returns a copy of a finished with success and result.
func succeeded(a *store.Attempt, when time.Time, result *seam.Credential) *store.Attempt {
	out := cloneAttempt(a)
	out.Status = seam.StatusSuccess
	out.FinishedAt = when
	out.Result = cloneCredential(result)
	return out
}

// failed returns a copy of a finished with an error.
func failed(a *store.Attempt, when time.Time, errType, msg string) *store.Attempt {
	out := cloneAttempt(a)
	out.Status = seam.StatusError
	out.FinishedAt = when
	out.ErrorType = errType
	out.ErrorMessage = msg
	return out
}

func cloneCredential(c *seam.Credential) *seam.Credential {
	if c == nil {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("storetest: fixture credential does not marshal: %v", err))
	}
	var out seam.Credential
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("storetest: fixture credential does not unmarshal: %v", err))
	}
	return &out
}

func cloneAttempt(a *store.Attempt) *store.Attempt {
	out := *a
	out.Result = cloneCredential(a.Result)
	return &out
}

// show renders a credential for a failure message; JSON names every field
// as the API does, which is what a reader compares.
func show(c *seam.Credential) string {
	if c == nil {
		return "<nil>"
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<unmarshalable: %v>", err)
	}
	return string(b)
}

func sameCredential(got, want *seam.Credential) bool { return show(got) == show(want) }

func showIDs(list []*seam.Credential) string {
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ACSCredentialID
	}
	return "[" + strings.Join(ids, " ") + "]"
}

func attemptIDs(list []*store.Attempt) string {
	ids := make([]string, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	return "[" + strings.Join(ids, " ") + "]"
}

// attemptDiff lists the fields in which got differs from want, as
// "Field: got …, want …"; none when they are equal. Times are compared as
// instants; that they come back in UTC is checked separately.
func attemptDiff(got, want *store.Attempt) []string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			d = append(d, fmt.Sprintf("%s: got %s, want %s", name, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
	}
	str("ID", got.ID, want.ID)
	str("WorkspaceID", got.WorkspaceID, want.WorkspaceID)
	str("EncoderID", got.EncoderID, want.EncoderID)
	str("CredentialID", got.CredentialID, want.CredentialID)
	str("Status", got.Status, want.Status)
	tm("CreatedAt", got.CreatedAt, want.CreatedAt)
	tm("Deadline", got.Deadline, want.Deadline)
	tm("FinishedAt", got.FinishedAt, want.FinishedAt)
	str("ErrorType", got.ErrorType, want.ErrorType)
	str("ErrorMessage", got.ErrorMessage, want.ErrorMessage)
	if !sameCredential(got.Result, want.Result) {
		d = append(d, fmt.Sprintf("Result: got %s, want %s", show(got.Result), show(want.Result)))
	}
	return d
}
