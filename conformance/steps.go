package conformance

import (
	"context"
	"fmt"
	"net/http"

	"github.com/encoderlab/encoderlab/sim/scenario"
)

// suiteSteps is what a scenario's timeline acts on in a run of the suite:
// the system under test for server and store steps, when the target's
// system takes them (scenario.System), and the suite itself, the client
// that makes the scenario's calls, for credential steps
// (scenario.Client).
type suiteSteps struct {
	sys scenario.System // nil: the target's system takes no server or store step
	api *client
	// credentialID is the scenario's credential, once it is created.
	credentialID func() string
}

func (s suiteSteps) system() (scenario.System, error) {
	if s.sys == nil {
		return nil, scenario.ErrNoSystem
	}
	return s.sys, nil
}

func (s suiteSteps) Kill(ctx context.Context) error {
	sys, err := s.system()
	if err != nil {
		return err
	}
	return sys.Kill(ctx)
}

func (s suiteSteps) Stop(ctx context.Context) error {
	sys, err := s.system()
	if err != nil {
		return err
	}
	return sys.Stop(ctx)
}

func (s suiteSteps) Start(ctx context.Context) error {
	sys, err := s.system()
	if err != nil {
		return err
	}
	return sys.Start(ctx)
}

func (s suiteSteps) FillStore(ctx context.Context) error {
	sys, err := s.system()
	if err != nil {
		return err
	}
	return sys.FillStore(ctx)
}

func (s suiteSteps) FreeStore(ctx context.Context) error {
	sys, err := s.system()
	if err != nil {
		return err
	}
	return sys.FreeStore(ctx)
}

// DeleteCredential deletes the scenario's credential with
// /acs/credentials/delete; anything but HTTP 200 fails the step.
func (s suiteSteps) DeleteCredential(ctx context.Context) error {
	id := s.credentialID()
	if id == "" {
		return fmt.Errorf("the scenario's credential was not created, so it cannot be deleted")
	}
	r, err := s.api.post(ctx, "/acs/credentials/delete", map[string]any{"acs_credential_id": id})
	if err != nil {
		return fmt.Errorf("deleting credential %s: %w", id, err)
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("deleting credential %s: %s", id, r)
	}
	return nil
}
