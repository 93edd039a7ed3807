package seam

import "encoding/json"

// ActionTypeEncodeCredential is the action_type of every encode attempt.
const ActionTypeEncodeCredential = "ENCODE_CREDENTIAL"

// Action attempt statuses.
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusError   = "error"
)

// ActionAttempt is an encode_credential action attempt. The status
// invariants hold by construction in the code that builds it:
// pending ⇒ Result and Error nil; success ⇒ Result set, Error nil;
// error ⇒ Error set, Result nil. Result and Error are always present in
// JSON (null when they do not apply).
type ActionAttempt struct {
	ActionAttemptID string            `json:"action_attempt_id"`
	ActionType      string            `json:"action_type"`
	Status          string            `json:"status"`
	Result          *Credential       `json:"result"`
	Error           *ActionAttemptErr `json:"error"`
	// Scan is the result of a SCAN_CREDENTIAL attempt that succeeded:
	// on the wire it is the attempt's result.
	Scan *ScanResult `json:"-"`
}

// MarshalJSON writes a scan's result as the attempt's result.
func (a ActionAttempt) MarshalJSON() ([]byte, error) {
	type plain ActionAttempt
	if a.Scan == nil {
		return json.Marshal(plain(a))
	}
	return json.Marshal(struct {
		plain
		Result *ScanResult `json:"result"`
	}{plain(a), a.Scan})
}

// ActionAttemptErr is the error of a failed attempt: a Type from the
// ErrorType constants and a human message.
type ActionAttemptErr struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Error types an encode attempt can end with (the newer seed's enum).
const (
	ErrUncategorized              = "uncategorized_error"
	ErrActionAttemptExpired       = "action_attempt_expired"
	ErrNoCredentialOnEncoder      = "no_credential_on_encoder"
	ErrIncompatibleCardFormat     = "incompatible_card_format"
	ErrCredentialCannotBeReissued = "credential_cannot_be_reissued"
)

// Access methods of a credential.
const (
	AccessCode      = "code"
	AccessCard      = "card"
	AccessMobileKey = "mobile_key"
)

// Warning codes a credential can carry.
const (
	WarnWaitingToBeIssued = "waiting_to_be_issued"
	WarnNeedsToBeReissued = "needs_to_be_reissued"
)

// Credential is an acs_credential. Pointer fields with omitempty are
// omitted when they do not apply; pointer fields without omitempty are
// the nullable ones (present, possibly null).
type Credential struct {
	ACSCredentialID         string          `json:"acs_credential_id"`
	ACSCredentialPoolID     string          `json:"acs_credential_pool_id,omitempty"`
	ACSSystemID             string          `json:"acs_system_id"`
	ACSUserID               string          `json:"acs_user_id,omitempty"`
	AccessMethod            string          `json:"access_method"`
	AssaAbloyVostioMetadata *VostioMetadata `json:"assa_abloy_vostio_metadata,omitempty"`
	CardNumber              *string         `json:"card_number"`
	// ConnectedAccountID is not in the seeds, but Seam's published types
	// require it on every credential; clients validating against them
	// need it.
	ConnectedAccountID                     string              `json:"connected_account_id"`
	Code                                   *string             `json:"code"`
	CreatedAt                              Time                `json:"created_at"`
	DisplayName                            string              `json:"display_name"`
	EndsAt                                 string              `json:"ends_at,omitempty"`
	Errors                                 []CredentialError   `json:"errors"`
	ExternalType                           string              `json:"external_type,omitempty"`
	ExternalTypeDisplayName                string              `json:"external_type_display_name,omitempty"`
	IsIssued                               *bool               `json:"is_issued,omitempty"`
	IsLatestDesiredStateSyncedWithProvider *bool               `json:"is_latest_desired_state_synced_with_provider"`
	IsManaged                              bool                `json:"is_managed"`
	IsMultiPhoneSyncCredential             *bool               `json:"is_multi_phone_sync_credential,omitempty"`
	IsOneTimeUse                           *bool               `json:"is_one_time_use,omitempty"`
	IssuedAt                               *Time               `json:"issued_at"`
	LatestDesiredStateSyncedWithProviderAt *Time               `json:"latest_desired_state_synced_with_provider_at"`
	ParentACSCredentialID                  string              `json:"parent_acs_credential_id,omitempty"`
	StartsAt                               string              `json:"starts_at,omitempty"`
	VisionlineMetadata                     *VisionlineMetadata `json:"visionline_metadata,omitempty"`
	Warnings                               []CredentialWarning `json:"warnings"`
	WorkspaceID                            string              `json:"workspace_id"`
}

// CredentialError is an entry of a credential's errors list.
type CredentialError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// CredentialWarning is an entry of a credential's warnings list.
type CredentialWarning struct {
	CreatedAt   Time   `json:"created_at"`
	Message     string `json:"message"`
	WarningCode string `json:"warning_code"`
}

// VisionlineMetadata is the metadata of a visionline_card credential.
// CardFunctionType is required when the object is present.
type VisionlineMetadata struct {
	AutoJoin               *bool    `json:"auto_join,omitempty"`
	CardFunctionType       string   `json:"card_function_type"`
	CardID                 string   `json:"card_id,omitempty"`
	CommonACSEntranceIDs   []string `json:"common_acs_entrance_ids,omitempty"`
	CredentialID           string   `json:"credential_id,omitempty"`
	GuestACSEntranceIDs    []string `json:"guest_acs_entrance_ids,omitempty"`
	IsValid                *bool    `json:"is_valid,omitempty"`
	JoinerACSCredentialIDs []string `json:"joiner_acs_credential_ids,omitempty"`
}

// VostioMetadata is the metadata of an assa_abloy_vostio_key credential.
type VostioMetadata struct {
	DoorNames                   []string `json:"door_names,omitempty"`
	EndpointID                  string   `json:"endpoint_id,omitempty"`
	KeyID                       string   `json:"key_id,omitempty"`
	KeyIssuingRequestID         string   `json:"key_issuing_request_id,omitempty"`
	OverrideGuestACSEntranceIDs []string `json:"override_guest_acs_entrance_ids,omitempty"`
}

// Credential external types (the newer seed's enum).
const (
	ExtPTICard            = "pti_card"
	ExtBrivoCredential    = "brivo_credential"
	ExtHIDCredential      = "hid_credential"
	ExtVisionlineCard     = "visionline_card"
	ExtSaltoKSCredential  = "salto_ks_credential"
	ExtAssaAbloyVostioKey = "assa_abloy_vostio_key"
	ExtSaltoSpaceKey      = "salto_space_key"
)

// Encoder is an acs_encoder.
type Encoder struct {
	ACSEncoderID       string         `json:"acs_encoder_id"`
	ACSSystemID        string         `json:"acs_system_id"`
	ConnectedAccountID string         `json:"connected_account_id"`
	WorkspaceID        string         `json:"workspace_id"`
	DisplayName        string         `json:"display_name"`
	CreatedAt          Time           `json:"created_at"`
	Errors             []EncoderError `json:"errors"`
}

// EncoderError is an entry of an encoder's errors list.
type EncoderError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
	CreatedAt Time   `json:"created_at"`
}
