package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const replayFile = `name: replayed
encoder: {model: replay, protocol: pms, id: desk}
credential: {system: visionline-hotel}
steps:
  - expect: {frame: ENQ}
  - send: "06"
  - expect: {frame: "CN 01 $cardid G * * *"}
  - send: {frame: ACK}
  - wait: 20ms
  - send: {frame: "OK 01 04A1B2C3D4E5F6 mifare-classic-1k $cardid"}
  - expect: {frame: ACK}
expect: {status: success}
`

func TestLoadByteSteps(t *testing.T) {
	s, err := Load("r.yaml", []byte(replayFile))
	if err != nil {
		t.Fatal(err)
	}
	if s.Encoder.Model != ReplayModel || s.Encoder.Protocol != "pms" {
		t.Errorf("encoder %+v", s.Encoder)
	}
	cn := s.Steps[2]
	if cn.Op != OpExpect || cn.Line != 7 || cn.Bytes == nil || len(cn.Bytes.Fields) != 7 {
		t.Fatalf("step 3: %+v", cn)
	}
	if f := cn.Bytes.Fields; f[2].Capture != "cardid" || !f[4].Any || f[3].Text != "G" {
		t.Errorf("CN pattern fields %+v", f)
	}
	if got := s.Steps[1].Bytes.Hex; len(got) != 1 || got[0] != 0x06 {
		t.Errorf("send hex: % X", got)
	}
	if got := cn.String(); got != "expect frame CN 01 $cardid G * * *" {
		t.Errorf("String() = %q", got)
	}
}

func TestLoadByteStepProblems(t *testing.T) {
	bad := strings.NewReplacer(
		`  - send: "06"`, `  - send: "0g"`,
		`{frame: "CN 01 $cardid G * * *"}`, `{frame: "CN 01 $card G * * *"}`,
		`  - send: {frame: ACK}`, `  - send: {frame: "OK *"}`,
		"protocol: pms, ", "",
	).Replace(replayFile)
	_, err := Load("r.yaml", []byte(bad))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LoadError", err)
	}
	for _, want := range []string{
		"r.yaml:2:1: encoder.protocol is required with model replay",
		`r.yaml:6:11: step 2: send: "0g" is not hex bytes`,
		"r.yaml:8:19: step 4: send: '*' matches any field and cannot be sent",
		"step 6 (send): $cardid is not captured by an earlier expect",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	mixed := strings.Replace(replayFile, "model: replay, protocol: pms", "model: pms", 1)
	if _, err := Load("m.yaml", []byte(mixed)); err == nil || !strings.Contains(err.Error(), "byte-level steps need encoder.model replay") {
		t.Errorf("byte steps on the pms model: %v", err)
	}
}

// A converted trace's gaps may be written as delay; they load as waits.
func TestDelayIsAWait(t *testing.T) {
	sc, err := Load("delay.yaml", []byte(`name: delay
encoder: {model: pms, id: front-desk-1}
credential: {system: visionline-hotel}
steps:
  - delay: 20ms
expect: {status: error, error: {type: no_credential_on_encoder}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if st := sc.Steps[0]; st.Op != OpWait || st.Duration != 20*time.Millisecond {
		t.Errorf("delay: 20ms loaded as %+v, want a 20ms wait", st)
	}
}
