package seam

// ActionTypeScanCredential is the action_type of a scan attempt
// (/acs/encoders/scan_credential, @seamapi/types 1.977.0).
const ActionTypeScanCredential = "SCAN_CREDENTIAL"

// ScanResult is the result of a scan that succeeded: what the card on
// the encoder holds, the credential of the workspace it is, and warnings
// where the two disagree.
type ScanResult struct {
	ACSCredentialOnEncoder *CredentialOnEncoder `json:"acs_credential_on_encoder"`
	ACSCredentialOnSeam    *Credential          `json:"acs_credential_on_seam"`
	Warnings               []ScanWarning        `json:"warnings"`
}

// CredentialOnEncoder is what the encoder read of the card.
type CredentialOnEncoder struct {
	CardNumber *string `json:"card_number"`
	IsIssued   *bool   `json:"is_issued"`
	// The encoders read neither the validity nor when the card was
	// written: null.
	CreatedAt *Time `json:"created_at"`
	StartsAt  *Time `json:"starts_at"`
	EndsAt    *Time `json:"ends_at"`
}

// ScanWarning is a warning of a scan.
type ScanWarning struct {
	WarningCode    string `json:"warning_code"`
	WarningMessage string `json:"warning_message"`
}

// Scan warning codes.
const (
	WarnCredentialOnSeamNotFound = "acs_credential_on_seam_not_found"
)

// ScanErrorTypes are the error types a scan attempt may end with.
var ScanErrorTypes = []string{ErrUncategorized, ErrActionAttemptExpired, ErrNoCredentialOnEncoder,
	ErrEncoderNotOnline, ErrEncoderCommunicationTimeout, ErrBridgeDisconnected}
