// Package store defines the pipeline's persistence: credentials and action
// attempts, scoped by workspace. Implementations live in sub-packages
// (sqlite is the default); storetest checks any of them.
//
// The store is the source of truth for an attempt's status: FinishAttempt
// moves an attempt out of pending at most once, atomically with the
// credential update a success brings, so a deadline timer and a worker
// racing to finish the same attempt cannot both win.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// ErrNotFound: no such record in that workspace.
var ErrNotFound = errors.New("not found")

// ErrNotPending: the attempt already has its terminal status.
var ErrNotPending = errors.New("action attempt is no longer pending")

// ErrExists: a record with that id already exists.
var ErrExists = errors.New("already exists")

// ErrLeaseHeld: another holder's lease on that name has not expired.
var ErrLeaseHeld = errors.New("lease held by another holder")

// ErrUnavailable: the store cannot write now (its disk is full, or it
// cannot reach its files or its server) and changed nothing; the same
// write may succeed later, once the cause is gone. Reads may still work.
var ErrUnavailable = errors.New("store cannot write now")

// Attempt is an action attempt as stored: an encode, or a scan.
type Attempt struct {
	ID          string
	WorkspaceID string
	EncoderID   string
	// ActionType is seam.ActionTypeScanCredential for a scan; "" (or
	// seam.ActionTypeEncodeCredential) for an encode.
	ActionType string
	// CredentialID is the credential an encode writes; "" for a scan.
	CredentialID string
	// Status is seam.StatusPending, StatusSuccess or StatusError.
	Status string
	// CreatedAt orders attempts: workers run the pending attempts of an
	// encoder in CreatedAt order (ties broken by ID) after a restart.
	CreatedAt time.Time
	// Deadline is when a still-pending attempt expires.
	Deadline time.Time
	// FinishedAt is when the attempt left pending; zero while pending.
	FinishedAt time.Time
	// ErrorType and ErrorMessage are set when Status is StatusError.
	ErrorType    string
	ErrorMessage string
	// Result is the credential as it was when an encode succeeded.
	Result *seam.Credential
	// Scan is what a scan that succeeded read.
	Scan *seam.ScanResult
	// Events are what the outcome makes happen (the credential issued),
	// recorded by FinishAttempt in the same transaction as the outcome:
	// an outcome never stands without its events, nor events without it.
	Events []*seam.Event
}

// EventFilter narrows ListEvents; empty fields match anything. Since and
// Until bound occurred_at (Since inclusive, Until exclusive); Limit 0 is
// no limit.
type EventFilter struct {
	Types           []string
	ACSCredentialID string
	ACSSystemID     string
	Since, Until    time.Time
	Limit           int
}

// CredentialFilter narrows ListCredentials; empty fields match anything.
type CredentialFilter struct {
	ACSSystemID string
	ACSUserID   string
}

// Store persists credentials and attempts. Every method is safe for
// concurrent use. Records are copied in and out: callers may keep and
// change what they pass and get back.
//
// A store refuses, with an error and changing nothing, what it cannot
// keep: a nil record; a credential or attempt without its id or workspace
// id; a new attempt whose Status is neither pending nor empty; a finish
// whose Status is neither success nor error; a time outside the years
// 0000-9999; a lease without a name or a holder, or with a ttl that is
// not positive. Its errors name the operation and the record, as in
// `finish attempt "att-1": action attempt is no longer pending`.
type Store interface {
	// PutCredential inserts or replaces a credential. A credential id
	// that belongs to another workspace is refused with ErrExists.
	PutCredential(ctx context.Context, c *seam.Credential) error
	// GetCredential returns ErrNotFound unless the credential exists in
	// that workspace.
	GetCredential(ctx context.Context, workspaceID, credentialID string) (*seam.Credential, error)
	// ListCredentials returns a workspace's credentials, oldest first.
	ListCredentials(ctx context.Context, workspaceID string, f CredentialFilter) ([]*seam.Credential, error)
	// DeleteCredential removes a credential and records event, when it
	// is not nil, in the same transaction; ErrNotFound, recording
	// nothing, unless the credential exists in that workspace. Its
	// attempts stay.
	DeleteCredential(ctx context.Context, workspaceID, credentialID string, event *seam.Event) error

	// ListEvents returns a workspace's events matching f, oldest
	// (occurred_at) first, ties in event id order.
	ListEvents(ctx context.Context, workspaceID string, f EventFilter) ([]*seam.Event, error)
	// GetEvent returns ErrNotFound unless the event exists in that
	// workspace.
	GetEvent(ctx context.Context, workspaceID, eventID string) (*seam.Event, error)

	// RegisterWebhook records that the webhook with that id delivers the
	// events occurring from at on, unless it is registered already, and
	// returns when it was first registered.
	RegisterWebhook(ctx context.Context, webhookID string, at time.Time) (time.Time, error)
	// UndeliveredEvents returns the events of a workspace the webhook has
	// neither delivered nor given up on (MarkDelivery), occurring from
	// since on, of one of types (all when empty), oldest first, at most
	// limit (0: all).
	UndeliveredEvents(ctx context.Context, workspaceID, webhookID string, since time.Time, types []string, limit int) ([]*seam.Event, error)
	// MarkDelivery records that the webhook delivered the event, or gave
	// up on it (delivered false), at at; the event is not delivered again.
	MarkDelivery(ctx context.Context, webhookID, eventID string, delivered bool, at time.Time) error

	// CreateAttempt stores a new pending attempt; ErrExists if its ID is taken.
	CreateAttempt(ctx context.Context, a *Attempt) error
	// GetAttempt returns ErrNotFound unless the attempt exists in that workspace.
	GetAttempt(ctx context.Context, workspaceID, attemptID string) (*Attempt, error)
	// FinishAttempt records a's terminal status (Status, FinishedAt,
	// ErrorType, ErrorMessage, Result) if the stored attempt is still
	// pending, and in the same transaction replaces the stored credential
	// with cred when cred is not nil and the credential is still there: a
	// credential deleted while an encode of it ran stays deleted.
	// It returns ErrNotPending, and changes nothing, when the attempt has
	// already finished, and ErrNotFound when it does not exist.
	FinishAttempt(ctx context.Context, a *Attempt, cred *seam.Credential) error
	// PendingAttempts returns every pending attempt of every workspace in
	// CreatedAt order.
	PendingAttempts(ctx context.Context) ([]*Attempt, error)

	// AcquireLease takes, or renews, the named lease for holder until ttl
	// from now on the store's own clock (the database server's, where there
	// is one, so that instances with skewed clocks still agree). It
	// succeeds when the lease is free, expired, or already held by holder,
	// and returns the new expiry; it returns ErrLeaseHeld, changing
	// nothing, while another holder's lease runs. Leases let several
	// servers share one store with each encoder driven by one of them.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (expires time.Time, err error)
	// ReleaseLease gives the lease up if holder holds it; otherwise it
	// does nothing and returns nil.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Close releases the store. Pending writes are durable before it returns.
	Close() error
}
