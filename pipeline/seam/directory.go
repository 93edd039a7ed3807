package seam

// System is an acs_system: an access control system of the workspace,
// as @seamapi/types describes it. The lab defines each; what Seam learns
// from a live system (counts, images, a time zone) has its empty form.
type System struct {
	ACSSystemID             string   `json:"acs_system_id"`
	Name                    string   `json:"name"`
	ExternalType            string   `json:"external_type,omitempty"`
	ExternalTypeDisplayName string   `json:"external_type_display_name,omitempty"`
	WorkspaceID             string   `json:"workspace_id"`
	ConnectedAccountID      string   `json:"connected_account_id"`
	ConnectedAccountIDs     []string `json:"connected_account_ids"`
	CreatedAt               Time     `json:"created_at"`
	IsCredentialManager     bool     `json:"is_credential_manager"`
	Location                Location `json:"location"`
	ImageURL                string   `json:"image_url"`
	ImageAltText            string   `json:"image_alt_text"`
	ACSUserCount            int      `json:"acs_user_count"`
	Errors                  []any    `json:"errors"`
	Warnings                []any    `json:"warnings"`
}

// Location is where an ACS system is.
type Location struct {
	TimeZone *string `json:"time_zone"`
}

// User is an acs_user: a person of an ACS system whom credentials are
// made for.
type User struct {
	ACSUserID            string `json:"acs_user_id"`
	ACSSystemID          string `json:"acs_system_id"`
	WorkspaceID          string `json:"workspace_id"`
	ConnectedAccountID   string `json:"connected_account_id"`
	CreatedAt            Time   `json:"created_at"`
	DisplayName          string `json:"display_name"`
	FullName             string `json:"full_name,omitempty"`
	IsManaged            bool   `json:"is_managed"`
	IsSuspended          bool   `json:"is_suspended"`
	LastSuccessfulSyncAt *Time  `json:"last_successful_sync_at"`
	Errors               []any  `json:"errors"`
	Warnings             []any  `json:"warnings"`
	PendingMutations     []any  `json:"pending_mutations"`
}

// SystemType is the acs_system external_type, and its display name, of a
// system whose credentials have external type credentialType (the
// newer seed's credential enum); "" for one the types do not pair.
func SystemType(credentialType string) (typ, display string) {
	switch credentialType {
	case ExtPTICard:
		return "pti_site", "PTI Site"
	case ExtBrivoCredential:
		return "brivo_account", "Brivo Account"
	case ExtHIDCredential:
		return "hid_credential_manager_organization", "HID Credential Manager Organization"
	case ExtVisionlineCard:
		return "visionline_system", "Visionline System"
	case ExtSaltoKSCredential:
		return "salto_ks_site", "Salto KS Site"
	case ExtAssaAbloyVostioKey:
		return "assa_abloy_vostio", "ASSA ABLOY Vostio"
	case ExtSaltoSpaceKey:
		return "salto_space_system", "Salto Space System"
	}
	return "", ""
}
