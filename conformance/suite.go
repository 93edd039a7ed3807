package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Test runs the whole suite from a go test:
//
//	func TestConformance(t *testing.T) { conformance.Test(t, conformance.NewConfig()) }
//
// The ginkgo CLI recognises a suite by a RunSpecs call in a _test.go
// file; to run in parallel with ginkgo -p, call Register and RunSpecs
// yourself, as conformance_test.go does.
//
// Before any spec runs, Test checks what would fail every spec alike
// (Preflight: scenarios that do not fit the lab, an external server
// that does not answer, a hardware port with no device) and fails t
// once with what to fix.
func Test(t *testing.T, cfg Config) {
	if err := Preflight(context.Background(), &cfg); err != nil {
		t.Fatalf("conformance: the run cannot start: %v", err)
	}
	Register(&cfg)
	RegisterFailHandler(Fail)
	RunSpecs(t, "Encoder conformance")
}

// Register declares the suite's specs in the current Ginkgo suite without
// running them, so another suite can embed them. Call it at the top level
// of a test file (var _ = conformance.Register(&cfg)) or before RunSpecs.
//
// Each requirement of the profile becomes one spec per place it is
// checked, labelled with its id: the API container checks requests of
// its own (authentication, parameters, conventions); each scenario's
// container plays the scenario once (BeforeAll) and checks every
// requirement the scenario can show on that one recording.
func Register(cfg *Config) bool {
	cfg.setDefaults()
	plan, err := Plan(cfg)
	ReportAfterSuite("conformance summary", func(r Report) { writeSummary(os.Stdout, r) })
	if cfg.Certified {
		ReportAfterSuite("certification", func(r Report) { failUncertified(cfg, r) })
	}
	lines := map[*scenario.Scenario]*lineLog{}
	if cfg.ahead = newAheadPool(cfg, plan, lines); cfg.ahead != nil {
		// The one node Ginkgo runs at the end of every process, even
		// after an interrupt, that Register can add beside an
		// embedding suite's own AfterSuite.
		ReportAfterSuite("scenarios played ahead", func(Report) { cfg.ahead.close() })
	}
	return Describe("encode_credential", Label(suiteLabels(cfg)...), func() {
		if err != nil {
			It("loads its scenarios and requirements", func() { Fail(err.Error()) })
			return
		}
		for _, g := range plan {
			registerGroup(cfg, g, lines)
		}
	})
}

// suiteLabels are the labels of the suite's top container.
func suiteLabels(cfg *Config) []string { return []string{"conformance", "profile:" + cfg.Profile} }

// scenarioLabels are the labels of a scenario's container, below the
// suite's; each spec in it adds its requirement's id.
func scenarioLabels(cfg *Config, sc *scenario.Scenario) []string {
	labels := []string{"scenario:" + sc.Name, "model:" + sc.Encoder.Model}
	if cfg.Hardware != nil {
		labels = append(labels, OperatorLabel)
	}
	return labels
}

func registerGroup(cfg *Config, g Group, lineLogs map[*scenario.Scenario]*lineLog) {
	if g.Scenario == nil {
		Describe("API", Ordered, ContinueOnFailure, Label("api"), func() {
			var f *apiFixture
			BeforeAll(func(ctx SpecContext) { f = setUpAPI(ctx, cfg) }, NodeTimeout(time.Minute))
			for _, req := range g.Requirements {
				It(specText(req), Label(req.ID), func(ctx SpecContext) {
					if p := checkAPI(ctx, req, f); len(p) > 0 {
						Fail(failure(req, "API requests", p))
					}
				}, SpecTimeout(time.Minute))
			}
		})
		return
	}
	sc := g.Scenario
	cfg = cfg.forScenario(sc) // the scale sc plays and is checked at
	Describe(sc.Name, Ordered, ContinueOnFailure, Label(scenarioLabels(cfg, sc)...), func() {
		var rec *recording
		var lines *lineLog // the line trace, kept for a failed scenario
		if cfg.ArtifactDir != "" && cfg.Hardware == nil {
			lines = newLineLog(sc, cfg.TimeScale)
			lineLogs[sc] = lines
			AfterEach(func() {
				if CurrentSpecReport().Failed() {
					lines.fail()
				}
			})
			AfterAll(func() {
				lines.setOutcome(rec)
				if err := lines.save(cfg.ArtifactDir, sc); err != nil {
					AddReportEntry("line trace not saved", err.Error())
				}
			})
		}
		BeforeAll(func(ctx SpecContext) {
			rec = recordSteady(ctx, cfg, sc, g.Requirements, lines)
			if ctx.Err() != nil {
				return // interrupted: no spec of the container runs
			}
			// The scenario's own side must have gone as written, or the
			// recording says nothing about the system under test. (The
			// command counts are LIFECYCLE-ONE-ENCODE-PER-CALL's to judge.)
			if rec.timeline != nil {
				Fail(fmt.Sprintf("scenario %s: the timeline did not run to its end: %v", sc.File, rec.timeline))
			}
		}, NodeTimeout(specTimeout(cfg, sc)))
		for _, req := range g.Requirements {
			It(specText(req), Label(req.ID), func() {
				if p := rec.problems(req, cfg); len(p) > 0 {
					Fail(failure(req, "scenario "+sc.File, p))
				}
			})
		}
	})
}

// Group is one container of the suite: the API checks (Scenario nil) or
// one scenario, with the requirements checked there.
type Group struct {
	Scenario     *scenario.Scenario
	Requirements []Requirement
}

// Plan returns the suite's containers for cfg without running anything:
// which requirement is checked where. Register builds the specs from it;
// the coverage check reads it.
func Plan(cfg *Config) ([]Group, error) {
	cfg.setDefaults()
	if cfg.Registry.Profile(cfg.Profile) == nil {
		var ids []string
		for _, p := range cfg.Registry.Profiles {
			ids = append(ids, p.ID)
		}
		return nil, fmt.Errorf("unknown profile %q: the registry has %s", cfg.Profile, strings.Join(ids, ", "))
	}
	if err := CheckScenarios(cfg); err != nil {
		return nil, err
	}
	scs, err := cfg.scenarios()
	if err != nil {
		return nil, err
	}
	scs = hardwareFilter(cfg, scs)
	reqs := cfg.Registry.For(cfg.Profile)
	api := Group{}
	for _, req := range reqs {
		if checkedByRequests(req) {
			api.Requirements = append(api.Requirements, req)
		}
	}
	plan := []Group{api}
	for _, sc := range scs {
		_, sys, err := lookUp(cfg.Lab, sc)
		if err != nil {
			return nil, err
		}
		g := Group{Scenario: sc}
		for _, req := range reqs {
			if applies(req, sc, sys) {
				g.Requirements = append(g.Requirements, req)
			}
		}
		plan = append(plan, g)
	}
	return plan, nil
}

// scenarios are the run's scenarios (Config.Scenarios, or every bundled
// one when it is nil) as the run's profile judges them
// (scenario.ForProfile).
//
// The bundled scans run only under a profile that has scan_credential
// (one with requirements of check kind scan): the seed revisions define
// no scan, so a server that follows them would fail those scenarios for
// no promise of theirs. A scan of the run's own scenarios under such a
// profile is a setup problem instead (CheckScenarios).
func (c *Config) scenarios() ([]*scenario.Scenario, error) {
	scs := c.Scenarios
	if scs == nil {
		var err error
		if scs, err = Bundled(c); err != nil {
			return nil, err
		}
	}
	out := make([]*scenario.Scenario, len(scs))
	for i, sc := range scs {
		out[i] = sc.ForProfile(c.Profile)
	}
	return out, nil
}

// Bundled is the bundled scenario set a run of cfg's profile plays: every
// bundled scenario (scenarios.All), the scans only under a profile that
// has scan_credential. A run whose Scenarios are nil plays it; append it
// to your own for both.
func Bundled(cfg *Config) ([]*scenario.Scenario, error) {
	cfg.setDefaults()
	all, err := scenarios.All()
	if err != nil {
		return nil, err
	}
	scans := cfg.profileScans()
	var out []*scenario.Scenario
	for _, sc := range all {
		if scans || !sc.Scans() {
			out = append(out, sc)
		}
	}
	return out, nil
}

// profileScans reports whether the run's profile has scan_credential:
// whether its registry requirements judge scans.
func (c *Config) profileScans() bool {
	return slices.ContainsFunc(c.Registry.For(c.Profile), func(r Requirement) bool { return r.Check.Kind == "scan" })
}

// checkedByRequests reports whether req is checked with requests of its
// own in the API container.
func checkedByRequests(req Requirement) bool {
	switch req.Check.Kind {
	case "auth", "param-required", "param-type", "validity", "request":
		return true
	case "convention":
		return req.Check.Rule != "get-and-post"
	}
	return false
}

func specText(req Requirement) string { return req.ID + ": " + req.Must }

// failure is the message of a failed requirement: which one, where the
// spec states it, where it was checked, and what came back.
func failure(req Requirement, where string, problems []string) string {
	return fmt.Sprintf("requirement %s (requirements.yaml:%d; %s, %s)\nMUST: %s\n%s:\n  %s",
		req.ID, req.Line, req.Source.Doc, req.Source.Section, req.Must, where, strings.Join(problems, "\n  "))
}

// specTimeout bounds one scenario: every encode may take a whole attempt
// deadline, plus room for setup on a slow machine.
func specTimeout(cfg *Config, sc *scenario.Scenario) time.Duration {
	per := cfg.TimeScale.Of(cfg.AttemptDeadline) + 10*time.Second
	run := time.Duration(len(sc.Encodes)+1)*per + 20*time.Second
	return time.Duration(1+max(cfg.StallReruns, 0)) * run
}

// lookUp finds the workspace holding the scenario's encoder and the
// credential's ACS system in it.
func lookUp(lab *fixtures.Lab, sc *scenario.Scenario) (*fixtures.Workspace, *fixtures.System, error) {
	for _, ws := range lab.Workspaces {
		for _, e := range ws.Encoders {
			if e.DisplayName == sc.Encoder.ID {
				sys := ws.System(sc.Credential.System)
				if sys == nil {
					return nil, nil, fmt.Errorf("scenario %s: workspace %s has no ACS system %q", sc.File, ws.Name, sc.Credential.System)
				}
				return ws, sys, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("scenario %s: no workspace of the lab has an encoder named %q", sc.File, sc.Encoder.ID)
}

// findEncoder returns the acs_encoder_id /acs/encoders/list gives the
// encoder with display_name name in workspace ws. It lists the encoders
// of ws's systems: the published request schema needs a filter.
func findEncoder(ctx context.Context, api *client, ws *fixtures.Workspace, name string) (string, error) {
	systems := []string{}
	for _, sys := range ws.Systems {
		systems = append(systems, sys.ID)
	}
	res, err := api.post(ctx, "/acs/encoders/list", map[string]any{"acs_system_ids": systems})
	if err != nil {
		return "", err
	}
	var body struct {
		Encoders []map[string]any `json:"acs_encoders"`
	}
	if res.Status != 200 || json.Unmarshal(res.Body, &body) != nil {
		return "", fmt.Errorf("listing encoders: %s", res)
	}
	for _, e := range body.Encoders {
		if e["display_name"] == name {
			id, _ := e["acs_encoder_id"].(string)
			if uuid.Validate(id) != nil {
				return "", fmt.Errorf("acs_encoder_id of %s is not a UUID: %s", name, res)
			}
			return id, nil
		}
	}
	return "", fmt.Errorf("no encoder with display_name %q in %s", name, res)
}

// createCredential makes the scenario's credential and returns the
// answer, the credential (nil when it was not made) and the request. The
// run cannot go on without it, unless the scenario expects its creation
// refused (Credential.Refused): that answer is judged with the rest.
func createCredential(ctx context.Context, api *client, sys *fixtures.System, sc *scenario.Scenario) (*response, map[string]any, map[string]any, error) {
	user := sys.User(sc.Credential.User)
	if user == nil {
		return nil, nil, nil, fmt.Errorf("scenario %s: system %s has no user %q", sc.File, sys.Key, sc.Credential.User)
	}
	req := credentialRequest(sc, sys, user.ID, time.Now().UTC())
	res, err := api.post(ctx, "/acs/credentials/create", req)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scenario %s: creating the credential: %w", sc.File, err)
	}
	if sc.Credential.Refused != nil && res.Status != 200 {
		return res, nil, req, nil
	}
	c, err := credentialOf(res)
	if err != nil || res.Status != 200 {
		return nil, nil, nil, fmt.Errorf("scenario %s: creating the credential: %s", sc.File, res)
	}
	return res, c, req, nil
}

// credentialRequest is the /acs/credentials/create body for the
// scenario's credential, its offsets taken from now.
func credentialRequest(sc *scenario.Scenario, sys *fixtures.System, userID string, now time.Time) map[string]any {
	c := sc.Credential
	method := c.AccessMethod
	if method == "" {
		method = "card"
	}
	req := map[string]any{"acs_user_id": userID, "access_method": method}
	if c.Code != "" {
		req["code"] = c.Code
	}
	if sys.ExternalType == "visionline_card" && method == "card" {
		req["visionline_metadata"] = map[string]any{"card_function_type": c.Function}
	}
	switch {
	case !c.StartsAt.IsZero():
		req["starts_at"] = c.StartsAt.UTC().Format(time.RFC3339)
	case c.StartsIn != 0 || c.EndsIn != 0:
		req["starts_at"] = now.Add(c.StartsIn).Format(time.RFC3339)
	}
	switch {
	case !c.EndsAt.IsZero():
		req["ends_at"] = c.EndsAt.UTC().Format(time.RFC3339)
	case c.EndsIn != 0:
		req["ends_at"] = now.Add(c.EndsIn).Format(time.RFC3339)
	}
	return req
}

func warningCodes(c map[string]any) []string {
	var out []string
	ws, _ := c["warnings"].([]any)
	for _, w := range ws {
		if m, ok := w.(map[string]any); ok {
			code, _ := m["warning_code"].(string)
			out = append(out, code)
		}
	}
	return out
}

func describe(x scenario.Expect) string {
	var parts []string
	if x.HTTPStatus != 200 {
		parts = append(parts, fmt.Sprintf("HTTP %d", x.HTTPStatus))
	}
	if x.Status != "" {
		parts = append(parts, x.Status)
	}
	if x.ErrorType != "" {
		parts = append(parts, x.ErrorType)
	}
	return strings.Join(parts, " ")
}
