package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Test runs the whole suite from a go test:
//
//	func TestConformance(t *testing.T) { conformance.Test(t, conformance.NewConfig()) }
func Test(t *testing.T, cfg Config) {
	Register(&cfg)
	RegisterFailHandler(Fail)
	RunSpecs(t, "Encoder conformance")
}

// Register declares the suite's specs in the current Ginkgo suite without
// running them, so another suite can embed them. Call it at the top level
// of a test file (var _ = conformance.Register(&cfg)) or before RunSpecs.
// cfg's defaults are filled in now; the scenarios it names become specs.
func Register(cfg *Config) bool {
	cfg.setDefaults()
	scs := cfg.Scenarios
	var loadErr error
	if scs == nil {
		scs, loadErr = scenarios.All()
	}
	ReportAfterSuite("conformance summary", func(r Report) { writeSummary(os.Stdout, r) })
	return Describe("encode_credential", Label("conformance"), func() {
		if loadErr != nil {
			It("loads the bundled scenarios", func() { Fail(loadErr.Error()) })
			return
		}
		for _, sc := range scs {
			labels := Label(append([]string{"model:" + sc.Encoder.Model}, sc.Covers...)...)
			It(sc.Name, labels, func(ctx SpecContext) {
				run(ctx, cfg, sc)
			}, SpecTimeout(specTimeout(cfg, sc)))
		}
	})
}

// specTimeout bounds one spec: every encode may take a whole attempt
// deadline, plus room for setup on a slow machine.
func specTimeout(cfg *Config, sc *scenario.Scenario) time.Duration {
	per := cfg.TimeScale.Of(cfg.AttemptDeadline) + 10*time.Second
	return time.Duration(len(sc.Encodes)+1)*per + 20*time.Second
}

// run plays one scenario end to end: a virtual encoder on a pty, the
// system under test pointed at it, a fresh card credential, the encodes
// the scenario lists, and every check the spec implies.
func run(ctx SpecContext, cfg *Config, sc *scenario.Scenario) {
	ws, sys := scenarioSystem(cfg.Lab, sc)
	tmp := GinkgoT().TempDir()
	linkDir := filepath.Join(tmp, "links")

	By(fmt.Sprintf("starting virtual encoder %s (model %s) for %s", sc.Encoder.ID, sc.Encoder.Model, sc.File))
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: linkDir, Scale: cfg.TimeScale, Logger: cfg.Logger})
	Expect(err).NotTo(HaveOccurred(), "starting the virtual encoder")
	DeferCleanup(enc.Close)

	By("starting the system under test")
	sut, err := cfg.Target.Start(ctx, Env{LinkDir: linkDir, TempDir: tmp, TimeScale: cfg.TimeScale, Lab: cfg.Lab, Logger: cfg.Logger})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sut.Close)
	api := newClient(sut.URL(), ws.APIKeys[0], "")
	if cfg.PersonalAccessToken {
		api = newClient(sut.URL(), ws.PersonalAccessTokens[0], ws.ID)
	}

	By("finding encoder " + sc.Encoder.ID + " with /acs/encoders/list")
	encoderID := findEncoder(ctx, api, sc.Encoder.ID)

	By(fmt.Sprintf("creating a card credential on %s with /acs/credentials/create", sys.Key))
	cred := createCredential(ctx, api, sys, sc)

	// The timeline runs beside the encodes, as a person at the desk would.
	playCtx, stopPlay := context.WithCancel(context.Background())
	played := make(chan error, 1)
	go func() { played <- enc.Play(playCtx) }()
	playDone := false
	DeferCleanup(func() {
		stopPlay()
		if !playDone {
			<-played
		}
	})

	for i, e := range sc.Encodes {
		cred = encode(ctx, cfg, api, enc, sc, sys, i, e, encoderID, cred)
	}

	By("checking the timeline ran to its end")
	grace := cfg.TimeScale.Of(cfg.AttemptDeadline) + 5*time.Second
	select {
	case err := <-played:
		playDone = true
		Expect(err).NotTo(HaveOccurred(), "scenario %s: timeline", sc.File)
	case <-time.After(grace):
		stopPlay()
		err := <-played
		playDone = true
		Fail(fmt.Sprintf("scenario %s: the timeline was still waiting %v after the last encode ended: %v", sc.File, grace, err))
	}
	// Play checks the command counts when its last step ends, which may be
	// before the last encode; only now is "never reached the encoder" true.
	Expect(scenario.CheckCommands(sc, enc.Device())).To(Succeed(), "scenario %s: commands the encoder received", sc.File)
}

// scenarioSystem finds the workspace holding the scenario's encoder and
// the credential's ACS system in it.
func scenarioSystem(lab *fixtures.Lab, sc *scenario.Scenario) (*fixtures.Workspace, *fixtures.System) {
	GinkgoHelper()
	for _, ws := range lab.Workspaces {
		for _, e := range ws.Encoders {
			if e.DisplayName == sc.Encoder.ID {
				sys := ws.System(sc.Credential.System)
				Expect(sys).NotTo(BeNil(), "scenario %s: workspace %s has no ACS system %q", sc.File, ws.Name, sc.Credential.System)
				return ws, sys
			}
		}
	}
	Fail(fmt.Sprintf("scenario %s: no workspace of the lab has an encoder named %q", sc.File, sc.Encoder.ID))
	return nil, nil
}

func findEncoder(ctx context.Context, api *client, name string) string {
	GinkgoHelper()
	res, err := api.get(ctx, "/acs/encoders/list", nil)
	Expect(err).NotTo(HaveOccurred())
	expectOK(res)
	var body struct {
		Encoders []map[string]any `json:"acs_encoders"`
	}
	Expect(json.Unmarshal(res.Body, &body)).To(Succeed(), res.String())
	for _, e := range body.Encoders {
		if e["display_name"] == name {
			id, _ := e["acs_encoder_id"].(string)
			Expect(uuid.Validate(id)).To(Succeed(), "acs_encoder_id of %s must be a UUID: %s", name, res)
			return id
		}
	}
	Fail(fmt.Sprintf("no encoder with display_name %q in %s", name, res))
	return ""
}

func createCredential(ctx context.Context, api *client, sys *fixtures.System, sc *scenario.Scenario) map[string]any {
	GinkgoHelper()
	user := sys.User(sc.Credential.User)
	Expect(user).NotTo(BeNil(), "scenario %s: system %s has no user %q", sc.File, sys.Key, sc.Credential.User)
	req := map[string]any{"acs_user_id": user.ID, "access_method": "card"}
	if sys.ExternalType == "visionline_card" {
		req["visionline_metadata"] = map[string]any{"card_function_type": sc.Credential.Function}
	}
	now := time.Now().UTC()
	if sc.Credential.StartsIn != 0 || sc.Credential.EndsIn != 0 {
		req["starts_at"] = now.Add(sc.Credential.StartsIn).Format(time.RFC3339)
	}
	if sc.Credential.EndsIn != 0 {
		req["ends_at"] = now.Add(sc.Credential.EndsIn).Format(time.RFC3339)
	}
	res, err := api.post(ctx, "/acs/credentials/create", req)
	Expect(err).NotTo(HaveOccurred())
	expectOK(res)
	raw := field(res, "acs_credential")
	Expect(CheckCredential(raw)).To(BeEmpty(), "created credential does not match the documented fields: %s", raw)
	c := decode(raw)
	Expect(c["access_method"]).To(Equal("card"))
	Expect(c["acs_user_id"]).To(Equal(user.ID))
	Expect(c["acs_system_id"]).To(Equal(sys.ID))
	Expect(c["external_type"]).To(Equal(sys.ExternalType))
	Expect(c["is_issued"]).To(Equal(false), "a new card credential is not issued")
	Expect(c["card_number"]).To(BeNil(), "a new card credential has no card number")
	Expect(c["issued_at"]).To(BeNil(), "a new card credential has no issued_at")
	Expect(warningCodes(c)).To(ContainElement("waiting_to_be_issued"), "a new card credential waits to be issued")
	return c
}

// encode runs one encode of the scenario and checks everything its
// expectation implies. It returns the credential as it now stands.
func encode(ctx context.Context, cfg *Config, api *client, enc *sim.Encoder, sc *scenario.Scenario,
	sys *fixtures.System, i int, e scenario.Encode, encoderID string, before map[string]any) map[string]any {
	GinkgoHelper()
	where := fmt.Sprintf("scenario %s encode %d (line %d)", sc.File, i+1, e.Line)
	credID := before["acs_credential_id"].(string)
	if e.Credential == "unknown" {
		credID = uuid.NewString()
	}
	if e.Encoder == "unknown" {
		encoderID = uuid.NewString()
	}
	var cardBefore card.Contents
	if e.Expect.Card != "" {
		cardBefore = enc.Card(e.Expect.Card).Contents()
	}

	By(fmt.Sprintf("encode %d of %d: POST /acs/encoders/encode_credential, expecting %s", i+1, len(sc.Encodes), describe(e.Expect)))
	started := time.Now()
	res, err := api.post(ctx, "/acs/encoders/encode_credential", map[string]any{
		"acs_credential_id": credID, "acs_encoder_id": encoderID,
	})
	Expect(err).NotTo(HaveOccurred(), where)
	if e.Expect.HTTPStatus != 200 {
		expectAPIError(res, e.Expect.HTTPStatus, e.Expect.ErrorType, where)
		return before
	}
	expectOK(res)
	first := field(res, "action_attempt")
	Expect(CheckActionAttempt(first)).To(BeEmpty(), "%s: the returned action attempt does not match the documented fields: %s", where, first)
	id := decode(first)["action_attempt_id"].(string)

	By("following action attempt " + id + " with /action_attempts/get until it ends")
	final := follow(ctx, cfg, api, id, where)
	a := decode(final)
	Expect(a["status"]).To(Equal(e.Expect.Status), "%s: attempt ended %s", where, final)

	after := getCredential(ctx, api, before["acs_credential_id"].(string))
	switch e.Expect.Status {
	case "success":
		result := a["result"].(map[string]any)
		checkIssued(result, before, sys, sc, enc, e, started, where)
		By("checking /acs/credentials/get returns the credential the attempt returned")
		Expect(after).To(Equal(result), "%s: the stored credential differs from the attempt's result", where)
	case "error":
		errObj := a["error"].(map[string]any)
		Expect(errObj["type"]).To(Equal(e.Expect.ErrorType), "%s: error %s", where, final)
		By("checking a failed encode left the credential as it was")
		Expect(after).To(Equal(before), "%s: a failed encode must not change the credential", where)
	}
	if e.Expect.Written != "" {
		got := enc.Card(e.Expect.Card).Contents()
		Expect(got.Kind).To(Equal(e.Expect.Written), "%s: card %s holds %s afterwards (before: %s)", where, e.Expect.Card, got.Kind, cardBefore.Kind)
		if e.Expect.Status == "error" {
			Expect(got.Writes).To(Equal(cardBefore.Writes), "%s: a failed encode must not write card %s", where, e.Expect.Card)
		}
	}
	return after
}

// follow polls the attempt, alternately with POST and GET as Seam's SDKs
// do, until it leaves pending, checking every answer on the way; then it
// checks the terminal status stays put.
func follow(ctx context.Context, cfg *Config, api *client, id, where string) []byte {
	GinkgoHelper()
	deadline := time.Now().Add(cfg.TimeScale.Of(cfg.AttemptDeadline) + 5*time.Second)
	for n := 0; ; n++ {
		raw := getAttempt(ctx, api, id, n%2 == 1, where)
		if decode(raw)["status"] != "pending" {
			again := getAttempt(ctx, api, id, n%2 == 0, where)
			Expect(decode(again)).To(Equal(decode(raw)), "%s: a terminal attempt changed: first %s, then %s", where, raw, again)
			return raw
		}
		if time.Now().After(deadline) {
			Fail(fmt.Sprintf("%s: attempt %s still pending %v after its deadline should have passed: %s", where, id, cfg.TimeScale.Of(cfg.AttemptDeadline), raw))
		}
		select {
		case <-ctx.Done():
			Fail(fmt.Sprintf("%s: spec ended while attempt %s was pending", where, id))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func getAttempt(ctx context.Context, api *client, id string, withGET bool, where string) []byte {
	GinkgoHelper()
	var res *response
	var err error
	if withGET {
		res, err = api.get(ctx, "/action_attempts/get", url.Values{"action_attempt_id": {id}})
	} else {
		res, err = api.post(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": id})
	}
	Expect(err).NotTo(HaveOccurred(), where)
	expectOK(res)
	raw := field(res, "action_attempt")
	Expect(CheckActionAttempt(raw)).To(BeEmpty(), "%s: action attempt does not match the documented fields: %s", where, raw)
	Expect(decode(raw)["action_attempt_id"]).To(Equal(id), "%s: asked for attempt %s, got %s", where, id, raw)
	return raw
}

func getCredential(ctx context.Context, api *client, id string) map[string]any {
	GinkgoHelper()
	res, err := api.post(ctx, "/acs/credentials/get", map[string]any{"acs_credential_id": id})
	Expect(err).NotTo(HaveOccurred())
	expectOK(res)
	raw := field(res, "acs_credential")
	Expect(CheckCredential(raw)).To(BeEmpty(), "credential does not match the documented fields: %s", raw)
	return decode(raw)
}

// checkIssued checks what a successful encode must have done to the
// credential: the seeds' is_issued, issued_at and card_number, the
// waiting_to_be_issued warning gone, the brand metadata filled, and
// everything else kept.
func checkIssued(result, before map[string]any, sys *fixtures.System, sc *scenario.Scenario, enc *sim.Encoder,
	e scenario.Encode, started time.Time, where string) {
	GinkgoHelper()
	By("checking the result credential is issued")
	for _, k := range []string{"acs_credential_id", "acs_system_id", "acs_user_id", "workspace_id", "access_method", "created_at", "external_type", "external_type_display_name"} {
		Expect(result[k]).To(Equal(before[k]), "%s: result %s changed by the encode", where, k)
	}
	Expect(result["is_issued"]).To(Equal(true), "%s: is_issued", where)
	issuedAt, ok := result["issued_at"].(string)
	Expect(ok).To(BeTrue(), "%s: issued_at must be a datetime after a successful encode, got %v", where, result["issued_at"])
	at, err := time.Parse(time.RFC3339Nano, issuedAt)
	Expect(err).NotTo(HaveOccurred())
	Expect(at).To(BeTemporally(">=", started.Add(-2*time.Second)), "%s: issued_at %s is before the encode started", where, issuedAt)
	Expect(at).To(BeTemporally("<=", time.Now().Add(2*time.Second)), "%s: issued_at %s is in the future", where, issuedAt)
	Expect(result["card_number"]).To(BeAssignableToTypeOf(""), "%s: card_number must be set", where)
	if e.Expect.Card != "" {
		Expect(result["card_number"]).To(Equal(enc.Card(e.Expect.Card).UID), "%s: card_number must be the UID of card %s", where, e.Expect.Card)
	}
	Expect(warningCodes(result)).NotTo(ContainElement("waiting_to_be_issued"), "%s: the waiting_to_be_issued warning must be gone", where)

	var written card.Contents
	if e.Expect.Card != "" {
		written = enc.Card(e.Expect.Card).Contents()
	}
	switch sys.ExternalType {
	case "visionline_card":
		vm, _ := result["visionline_metadata"].(map[string]any)
		Expect(vm).NotTo(BeNil(), "%s: a visionline_card credential carries visionline_metadata", where)
		Expect(vm["card_function_type"]).To(Equal(sc.Credential.Function), "%s: visionline_metadata.card_function_type", where)
		Expect(vm["card_id"]).To(BeAssignableToTypeOf(""), "%s: visionline_metadata.card_id must be filled by the encode", where)
		Expect(vm["card_id"]).NotTo(BeEmpty(), "%s: visionline_metadata.card_id", where)
		if e.Expect.Card != "" {
			Expect(vm["card_id"]).To(Equal(written.CardID), "%s: visionline_metadata.card_id must be the card id written on card %s", where, e.Expect.Card)
		}
	case "assa_abloy_vostio_key":
		vm, _ := result["assa_abloy_vostio_metadata"].(map[string]any)
		Expect(vm).NotTo(BeNil(), "%s: an assa_abloy_vostio_key credential carries assa_abloy_vostio_metadata", where)
		Expect(vm["key_id"]).To(BeAssignableToTypeOf(""), "%s: assa_abloy_vostio_metadata.key_id must be filled by the encode", where)
		Expect(vm["key_id"]).NotTo(BeEmpty(), "%s: assa_abloy_vostio_metadata.key_id", where)
	default:
		Expect(result).NotTo(HaveKey("visionline_metadata"), "%s: visionline_metadata does not apply to %s", where, sys.ExternalType)
		Expect(result).NotTo(HaveKey("assa_abloy_vostio_metadata"), "%s: assa_abloy_vostio_metadata does not apply to %s", where, sys.ExternalType)
	}
}

func expectOK(res *response) {
	GinkgoHelper()
	expectRequestID(res)
	Expect(res.Status).To(Equal(200), res.String())
	m, err := res.object()
	Expect(err).NotTo(HaveOccurred())
	Expect(m).To(HaveKeyWithValue("ok", json.RawMessage("true")), "%s: a success carries \"ok\": true", res)
}

func expectAPIError(res *response, status int, typ, where string) {
	GinkgoHelper()
	expectRequestID(res)
	Expect(res.Status).To(Equal(status), "%s: %s", where, res)
	var body struct {
		OK    *bool `json:"ok"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	Expect(json.Unmarshal(res.Body, &body)).To(Succeed(), "%s: error body is not JSON: %s", where, res)
	Expect(body.OK).NotTo(BeNil(), "%s: an error carries \"ok\": false: %s", where, res)
	Expect(*body.OK).To(BeFalse(), "%s: an error carries \"ok\": false: %s", where, res)
	Expect(body.Error).NotTo(BeNil(), "%s: an error carries an \"error\" object: %s", where, res)
	Expect(body.Error.Type).To(Equal(typ), "%s: error type: %s", where, res)
	Expect(body.Error.Message).NotTo(BeEmpty(), "%s: error message: %s", where, res)
}

func expectRequestID(res *response) {
	GinkgoHelper()
	Expect(res.Header.Get("seam-request-id")).NotTo(BeEmpty(), "%s: every response carries seam-request-id", res)
}

func field(res *response, name string) []byte {
	GinkgoHelper()
	m, err := res.object()
	Expect(err).NotTo(HaveOccurred())
	raw, ok := m[name]
	Expect(ok).To(BeTrue(), "%s: no %q in the body", res, name)
	return raw
}

func decode(raw []byte) map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal(raw, &m)).To(Succeed(), "not a JSON object: %s", raw)
	return m
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
