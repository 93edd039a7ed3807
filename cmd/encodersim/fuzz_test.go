package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// FuzzConvert converts arbitrary traces. A trace the reader accepts
// converts without panicking; when it converts, the scenario either
// loads or is refused with a *scenario.LoadError, never anything else.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"trace":1,"protocol":"pms","link":"/tmp/encoderlab/front-desk-1","started":"2026-11-25T10:00:00Z"}
{"t_us":0,"dir":"host>device","hex":"05"}
{"t_us":812,"dir":"device>host","hex":"06","frames":["ACK"]}
{"t_us":2000,"dir":"host>device","hex":"024f4b03"}
{"t_us":9000,"dir":"device>host","hex":"024f4bb3303103","note":"split frame"}
`))
	f.Add([]byte(`{"trace":1,"protocol":"pn532","started":"2026-11-25T10:00:00Z","redacted":["pn532:keys"]}
{"t_us":0,"dir":"host>device","hex":"5555000000000000ff03fdd4140117"}
{"t_us":1500,"dir":"device>host","hex":"0000ff00ff000000ff02fed5151600"}
`))
	f.Add([]byte(`{"trace":1,"protocol":"pn532","started":"2026-11-25T10:00:00Z","redacted":["pn532:keys","pn532:all-data"]}
{"t_us":0,"dir":"host>device","hex":"0000ff15ebd44001a0041111111111111111111111111111111148"}
{"t_us":900,"dir":"device>host","hex":"0000ff00ff000000ff03fdd541000000"}
{"t_us":1000,"dir":"host>device","hex":"0000ff05fbd440013004b300"}
{"t_us":1900,"dir":"device>host","hex":"0000ff00ff000000ff13edd5410011111111111111111111111111111111b900"}
`))
	// An empty reader: ACK at once, TO after the 20 s card wait, split
	// across chunks with a gap inside it.
	f.Add([]byte(`{"trace":1,"protocol":"pms","started":"2026-11-25T10:00:00Z"}
{"t_us":0,"dir":"host>device","hex":"0602434eb33031b339463243344431413030303030303031b347b3323032363131323531373338b3323032363131323831373338b3526f6f6d203130310365"}
{"t_us":135,"dir":"device>host","hex":"0602544f"}
{"t_us":20001251,"dir":"device>host","hex":"b3303103aa"}
{"t_us":20001400,"dir":"host>device","hex":"06"}
`))
	f.Add([]byte(`{"trace":1,"started":"2026-11-25T10:00:00Z","device":"/dev/ttyUSB0","note":"desk \"3\": #notes"}
{"t_us":0,"dir":"device>host","hex":"","note":"hangup"}
{"t_us":4,"dir":"device>host","hex":"ff00"}
`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := trace.Read(bytes.NewReader(data))
		if err != nil {
			return // FuzzRead in sim/trace covers the reader
		}
		y, err := Convert(tr, ConvertOptions{Name: "fuzzed", Encoder: "front-desk-1", Expect: "success", System: "visionline-hotel"})
		if err != nil {
			return
		}
		if _, err := scenario.Load("fuzzed.yaml", y); err != nil {
			if _, ok := errors.AsType[*scenario.LoadError](err); !ok {
				t.Fatalf("converted scenario refused with %v (%T), not a *scenario.LoadError\n%s", err, err, y)
			}
		}
	})
}
