package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/trace"
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

// pmsFields and pn532Fields are a frame step's fields, as the step's
// protocol compiled them.
func pmsFields(t *testing.T, st Step) []trace.FrameField {
	t.Helper()
	c, ok := st.Bytes.Step.(*trace.PMSStep)
	if !ok {
		t.Fatalf("step %d compiled to %T, want a *trace.PMSStep", st.Index+1, st.Bytes.Step)
	}
	return c.Fields
}

func pn532Fields(t *testing.T, st Step) []trace.FrameField {
	t.Helper()
	c, ok := st.Bytes.Step.(*trace.PN532Step)
	if !ok {
		t.Fatalf("step %d compiled to %T, want a *trace.PN532Step", st.Index+1, st.Bytes.Step)
	}
	return c.Fields
}

func TestLoadByteSteps(t *testing.T) {
	s, err := Load("r.yaml", []byte(replayFile))
	if err != nil {
		t.Fatal(err)
	}
	if s.Encoder.Model != ReplayModel || s.Encoder.Protocol != "pms" {
		t.Errorf("encoder %+v", s.Encoder)
	}
	cn := s.Steps[2]
	if cn.Op != OpExpect || cn.Line != 7 || cn.Bytes == nil || len(pmsFields(t, cn)) != 7 {
		t.Fatalf("step 3: %+v", cn)
	}
	if f := pmsFields(t, cn); f[2].Capture != "cardid" || !f[4].Any || f[3].Text != "G" {
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
	).Replace(replayFile)
	_, err := Load("r.yaml", []byte(bad))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LoadError", err)
	}
	// Frame text is the protocol's, so a replay that names none has its
	// frames read by nobody: the missing protocol is what it hears of.
	_, noProtocol := Load("r.yaml", []byte(strings.Replace(bad, "protocol: pms, ", "", 1)))
	if noProtocol == nil || !strings.Contains(noProtocol.Error(), "r.yaml:2:1: encoder.protocol is required with model replay") {
		t.Errorf("no encoder.protocol: %v", noProtocol)
	}
	for _, want := range []string{
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

const pn532ReplayFile = `name: replayed-pn532
encoder: {model: replay, protocol: pn532, id: nfc-desk-1}
credential: {system: visionline-hotel}
steps:
  - expect: "55550000000000000000000000000000"
  - expect: {frame: "D4 14 01 14 00"}
  - send: {frame: ACK}
  - send: {frame: "D5 15"}
  - expect: {frame: "D4 40 01 60 04 *:6 b3 c4 d5 e6"}
  - expect: {frame: "D4 40 01 A0 04 $block4:16"}
  - send: {frame: "D5 41 00 $block4"}
  - expect: {frame: "D4 40 01 30 $blk"}
  - send: {frame: "D5 41 $blk:1 *"}
expect: {status: success}
`

func TestLoadPN532Frames(t *testing.T) {
	s, err := Load("p.yaml", []byte(strings.Replace(pn532ReplayFile, "\n  - send: {frame: \"D5 41 $blk:1 *\"}", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	auth := pn532Fields(t, s.Steps[4])
	if len(auth) != 10 || auth[3].Text != "60" || !auth[5].Any || auth[5].Len != 6 || auth[6].Text != "B3" {
		t.Errorf("auth pattern fields %+v", auth)
	}
	if f := pn532Fields(t, s.Steps[5])[5]; f.Capture != "block4" || f.Len != 16 {
		t.Errorf("write capture %+v, want $block4 of 16 bytes", f)
	}
	if f := pn532Fields(t, s.Steps[2]); len(f) != 1 || f[0].Text != "ACK" {
		t.Errorf("ACK fields %+v", f)
	}
}

func TestLoadPN532FrameProblems(t *testing.T) {
	bad := strings.NewReplacer(
		`{frame: "D4 14 01 14 00"}`, `{frame: "D4 14 1 14"}`,
		`{frame: "D5 15"}`, `{frame: "D5 ACK"}`,
		`*:6 b3`, `*:0 b3`,
		`$block4:16"}`, `$Block4"}`,
		`{frame: "D5 41 $blk:1 *"}`, `{frame: "D5 41 $blk:2 00"}`,
	).Replace(pn532ReplayFile)
	_, err := Load("p.yaml", []byte(bad))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LoadError", err)
	}
	for _, want := range []string{
		`p.yaml:6:21: step 2: expect: frame "D4 14 1 14", byte field 3 "1": want a byte in hex`,
		`p.yaml:8:19: step 4: send: frame "D5 ACK", byte field 2 "ACK": ACK is a whole frame`,
		`p.yaml:9:21: step 5: expect: frame "D4 40 01 60 04 *:0 b3 c4 d5 e6", byte field 6 "*:0": byte count "0"`,
		`p.yaml:10:21: step 6: expect: frame "D4 40 01 A0 04 $Block4", byte field 6 "$Block4": capture must be $ and a lower-case name`,
		"p.yaml:13:5: step 9 (send): $blk:2, but $blk took 1 byte(s) earlier",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	long := strings.Replace(pn532ReplayFile, `{frame: "D5 15"}`, `{frame: "D5 $x:255"}`, 1)
	if _, err := Load("l.yaml", []byte(long)); err == nil || !strings.Contains(err.Error(), "a normal frame carries at most 255") {
		t.Errorf("a 256-byte frame: %v", err)
	}
	star := strings.Replace(pn532ReplayFile, `{frame: "D5 15"}`, `{frame: "D5 *:2"}`, 1)
	if _, err := Load("s.yaml", []byte(star)); err == nil || !strings.Contains(err.Error(), "'*' matches any byte and cannot be sent") {
		t.Errorf("'*' in a send: %v", err)
	}
}
