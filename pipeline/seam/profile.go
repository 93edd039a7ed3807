package seam

import (
	"fmt"
	"slices"
)

// Profile is the revision of Seam's API a workspace is served: what a
// client written against that revision may see on the wire. The lab sets
// it per workspace (fixtures.Workspace.Profile).
type Profile string

const (
	// ProfileCurrent is the newer seed revision of "Encode a Credential".
	ProfileCurrent Profile = "current"
	// ProfileOlder is the older seed revision. Its wire form is the
	// newer one's (the newer revision only documents more of it).
	ProfileOlder Profile = "older"
	// ProfileLatest is Seam's API as its published types describe it
	// (npm @seamapi/types, version LatestTypesVersion).
	ProfileLatest Profile = "latest"
)

// DefaultProfile is what a workspace that names no profile is served.
const DefaultProfile = ProfileCurrent

// LatestTypesVersion is the @seamapi/types release the latest profile
// follows; .ci/sdk/package.json pins the same one.
const LatestTypesVersion = "1.977.0"

// Profiles lists every profile, the default first.
var Profiles = []Profile{ProfileCurrent, ProfileOlder, ProfileLatest}

// ParseProfile returns the profile named s ("" is the default).
func ParseProfile(s string) (Profile, error) {
	if s == "" {
		return DefaultProfile, nil
	}
	if p := Profile(s); slices.Contains(Profiles, p) {
		return p, nil
	}
	return "", fmt.Errorf("profile %q is not one of %v", s, Profiles)
}

// Error types only the latest profile knows (@seamapi/types 1.977.0,
// action_attempt ENCODE_CREDENTIAL error). The pipeline records the
// finest type it can tell; a workspace of an older profile sees it as
// ErrorType says.
const (
	ErrEncodingInterrupted         = "encoding_interrupted"
	ErrEncoderNotOnline            = "encoder_not_online"
	ErrEncoderCommunicationTimeout = "encoder_communication_timeout"
	ErrBridgeDisconnected          = "bridge_disconnected"
	ErrCredentialDeleted           = "credential_deleted"
)

// seedErrorTypes are the five error types both seed revisions enumerate.
var seedErrorTypes = []string{
	ErrUncategorized, ErrActionAttemptExpired, ErrNoCredentialOnEncoder,
	ErrIncompatibleCardFormat, ErrCredentialCannotBeReissued,
}

// latestErrorTypes are the seeds' five and the five the published types add.
var latestErrorTypes = append(slices.Clone(seedErrorTypes),
	ErrEncodingInterrupted, ErrEncoderNotOnline, ErrEncoderCommunicationTimeout,
	ErrBridgeDisconnected, ErrCredentialDeleted)

// EncodeErrorTypes lists the error types an encode attempt of this
// profile may end with.
func (p Profile) EncodeErrorTypes() []string {
	if p == ProfileLatest {
		return slices.Clone(latestErrorTypes)
	}
	return slices.Clone(seedErrorTypes)
}

// ErrorType is how a workspace of this profile sees an attempt that
// ended with error type t. A type the profile does not enumerate is
// uncategorized_error, which both seeds define as the error that fits no
// other category: the client learns that the encode failed, not the
// finer reason its revision of the API has no word for.
func (p Profile) ErrorType(t string) string {
	if p.Knows(t) {
		return t
	}
	return ErrUncategorized
}

// Knows reports whether t is an error type of this profile.
func (p Profile) Knows(t string) bool { return slices.Contains(p.EncodeErrorTypes(), t) }
