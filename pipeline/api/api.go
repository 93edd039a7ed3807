package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// DefaultMaxBodyBytes bounds a request body unless Deps says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Deps is what the API serves from.
type Deps struct {
	// Lab holds the workspaces, their tokens, systems and users.
	Lab *fixtures.Lab
	// Store keeps credentials.
	Store store.Store
	// Encoding runs encodes.
	Encoding Encoding
	// Encoders lists the encoders of a workspace.
	Encoders Encoders
	// Logger receives one record per request; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Encoding runs encodes; pipeline/attempt implements it. Refusals a client
// can act on are *seam.Error (404 acs_encoder_not_found /
// acs_credential_not_found / action_attempt_not_found, 400 invalid_input,
// 503 service_unavailable while the server drains); any other error is
// internal.
type Encoding interface {
	Encode(ctx context.Context, workspaceID, credentialID, encoderID string) (*seam.ActionAttempt, error)
	Attempt(ctx context.Context, workspaceID, attemptID string) (*seam.ActionAttempt, error)
	// SimulateNext makes the encoder's next encode end as told without
	// touching the device: errorType "" succeeds, otherwise it fails with
	// that error type.
	SimulateNext(ctx context.Context, workspaceID, encoderID, errorType string) error
	// Scan starts a SCAN_CREDENTIAL attempt on the encoder.
	Scan(ctx context.Context, workspaceID, encoderID string) (*seam.ActionAttempt, error)
	// SimulateNextScan makes the encoder's next scan end as told without
	// the device: failing with errorType, or else as scenario says
	// (next_credential_scan_will_succeed's), finding credentialID.
	SimulateNextScan(ctx context.Context, workspaceID, encoderID, errorType, scenario, credentialID string) error
}

// Encoders is the registry of a workspace's encoders.
type Encoders interface {
	Encoders(workspaceID string) []seam.Encoder
	Encoder(workspaceID, encoderID string) (seam.Encoder, bool)
}

// server is the handler New returns.
type server struct {
	lab      *fixtures.Lab
	store    store.Store
	encoding Encoding
	encoders Encoders
	log      *slog.Logger
	now      func() time.Time
	started  time.Time // the created_at of the lab's systems and users
	maxBody  int64
	tokens   []token
	routes   map[string]route
}

// New returns the API handler.
func New(d Deps) http.Handler {
	s := &server{
		lab:      d.Lab,
		store:    d.Store,
		encoding: d.Encoding,
		encoders: d.Encoders,
		log:      d.Logger,
		now:      d.Now,
		maxBody:  d.MaxBodyBytes,
	}
	if s.lab == nil {
		s.lab = &fixtures.Lab{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.started = time.Now()
	s.tokens = tokensOf(s.lab)
	s.routes = s.routeTable()
	return s
}
