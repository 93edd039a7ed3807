package seam

// Event is an event of the workspace, as @seamapi/types describes the
// ACS credential events: what happened (EventType), to which credential
// of which system, and when.
type Event struct {
	EventID            string `json:"event_id"`
	EventType          string `json:"event_type"`
	WorkspaceID        string `json:"workspace_id"`
	CreatedAt          Time   `json:"created_at"`
	OccurredAt         Time   `json:"occurred_at"`
	ACSSystemID        string `json:"acs_system_id"`
	ACSCredentialID    string `json:"acs_credential_id"`
	ConnectedAccountID string `json:"connected_account_id,omitempty"`
	EventDescription   string `json:"event_description,omitempty"`
}

// The event types encoderd records (@seamapi/types 1.977.0).
const (
	// EventCredentialIssued: an encode wrote a credential that was not
	// issued onto a card.
	EventCredentialIssued = "acs_credential.issued"
	// EventCredentialReissued: an encode wrote an issued credential
	// again, onto the same card or another.
	EventCredentialReissued = "acs_credential.reissued"
	// EventCredentialDeleted: the credential was deleted.
	EventCredentialDeleted = "acs_credential.deleted"
)

// EventTypes lists the event types encoderd records.
var EventTypes = []string{EventCredentialIssued, EventCredentialReissued, EventCredentialDeleted}
