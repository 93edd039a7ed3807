package scenario_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

func TestCheckLab(t *testing.T) {
	lab := fixtures.Bundled()
	for _, tc := range []struct {
		name, doc string
		want      []string // one problem each, "LINE:COL: text…"
	}{
		{"fits", "encoder: {model: pms, id: front-desk-1}\ncredential: {system: visionline-hotel}\n", nil},
		{"fits, pn532", "encoder: {model: pn532, id: nfc-station-desk}\ncredential: {system: salto-space-hotel, user: guest}\n", nil},
		{"fits, replay", "encoder: {model: replay, protocol: pn532, id: nfc-desk-1}\ncredential: {system: visionline-hotel}\n", nil},
		{"no such encoder", "encoder: {model: pms, id: front-desk-9}\ncredential: {system: visionline-hotel}\n",
			[]string{`1:27: encoder.id: the lab has no encoder "front-desk-9" (its pms encoders: front-desk-1, front-desk-2, station-desk)`}},
		{"model the lab does not drive it with", "encoder: {model: pn532, id: front-desk-1}\ncredential: {system: visionline-hotel}\n",
			[]string{"1:18: encoder.model: pn532, but the lab drives front-desk-1 with pms (its pn532 encoders: nfc-desk-1, nfc-station-desk)"}},
		{"replay of the other protocol", "encoder: {model: replay, protocol: pms, id: nfc-desk-1}\ncredential: {system: visionline-hotel}\n",
			[]string{"1:36: encoder.protocol: a replay of pms, but the lab drives nfc-desk-1 with pn532"}},
		{"system not in the workspace", "encoder: {model: pms, id: front-desk-1}\ncredential: {system: nowhere-hotel}\n",
			[]string{`2:22: credential.system: workspace "Encoder Lab" has no ACS system "nowhere-hotel" (encoder front-desk-1 belongs to visionline-hotel)`}},
		{"another encoder's system", "encoder: {model: pms, id: front-desk-1}\ncredential: {system: vostio-hotel}\n",
			[]string{"2:22: credential.system: vostio-hotel, but encoder front-desk-1 belongs to visionline-hotel"}},
		{"no such user", "encoder: {model: pms, id: front-desk-2}\ncredential: {system: vostio-hotel, user: staff}\n",
			[]string{`2:42: credential.user: ACS system vostio-hotel has no user "staff" (its users: guest)`}},
		{"every problem at once", "encoder: {model: pn532, id: station-desk}\ncredential: {system: visionline-hotel, user: nobody}\n",
			[]string{"1:18: encoder.model: pn532, but the lab drives station-desk with pms",
				"2:22: credential.system: visionline-hotel, but encoder station-desk belongs to salto-space-hotel",
				`2:46: credential.user: ACS system visionline-hotel has no user "nobody"`}},
		{"two encoders fit", "encoders: [{model: pms, id: front-desk-1}, {model: pn532, id: nfc-desk-1}]\ncredential: {system: visionline-hotel}\n", nil},
		{"second encoder missing", "encoders: [{model: pms, id: front-desk-1}, {model: pms, id: back-office}]\ncredential: {system: visionline-hotel}\n",
			[]string{`1:61: encoders[1].id: the lab has no encoder "back-office"`}},
		{"second encoder of another system", "encoders: [{model: pms, id: front-desk-1}, {model: pms, id: front-desk-2}]\ncredential: {system: visionline-hotel}\n",
			[]string{"2:22: credential.system: visionline-hotel, but encoder front-desk-2 belongs to vostio-hotel"}},
		{"second encoder's model", "encoders: [{model: pms, id: front-desk-1}, {model: pms, id: nfc-desk-1}]\ncredential: {system: visionline-hotel}\n",
			[]string{"1:52: encoders[1].model: pms, but the lab drives nfc-desk-1 with pn532"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLab(t, lab, tc.doc, tc.want)
		})
	}

	// A vendor's driver, named after no model: the lab does not say what
	// it speaks, so any model fits.
	vendor := fixtures.Bundled()
	for _, ws := range vendor.Workspaces {
		for _, e := range ws.Encoders {
			e.Driver = "acme-pms"
		}
	}
	checkLab(t, vendor, "encoder: {model: pn532, id: front-desk-1}\ncredential: {system: visionline-hotel}\n", nil)
}

// checkLab loads doc as a scenario and checks it against lab: want is
// its problems, each the start of "LINE:COL: message", nil for none.
func checkLab(t *testing.T, lab *fixtures.Lab, doc string, want []string) {
	t.Helper()
	s, err := scenario.Load("x.yaml", []byte(doc+"name: x\nexpect: {status: success}\n"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	err = scenario.CheckLab(s, lab)
	if want == nil {
		if err != nil {
			t.Fatalf("CheckLab = %v, want nil", err)
		}
		return
	}
	var le *scenario.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("CheckLab = %v, want a *scenario.LoadError", err)
	}
	if le.File != "x.yaml" || len(le.Problems) != len(want) {
		t.Fatalf("CheckLab = %v (file %q), want %d problem(s): %q", err, le.File, len(want), want)
	}
	for i, p := range le.Problems {
		if !strings.HasPrefix(p.String(), want[i]) {
			t.Errorf("problem %d = %q, want it to start %q", i+1, p.String(), want[i])
		}
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, scName string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		doc := "name: " + scName + "\nencoder: {model: pms, id: front-desk-1}\ncredential: {system: visionline-hotel}\nexpect: {status: success}\n"
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("set/b.yaml", "b")
	write("set/a.yml", "a")
	write("set/notes.txt", "not-a-scenario")
	write("set/deeper/c.yaml", "c")
	single := write("single.scenario", "single")

	got, err := scenario.LoadPaths(filepath.Join(dir, "set"), single)
	if err != nil {
		t.Fatalf("LoadPaths = %v", err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "a b single" {
		t.Errorf("LoadPaths loaded %q, want the directory's .yaml and .yml files in name order, then the file: a b single", names)
	}

	write("empty/notes.txt", "x")
	dup := write("dup.yaml", "a")
	_, err = scenario.LoadPaths(filepath.Join(dir, "set"), filepath.Join(dir, "empty"), filepath.Join(dir, "missing"), dup)
	if err == nil {
		t.Fatal("LoadPaths of an empty directory, a missing path and a duplicate name succeeded")
	}
	for _, want := range []string{"empty holds no scenario file", "missing: no such file", `dup.yaml: scenario name "a" is already the name of ` + filepath.Join(dir, "set", "a.yml")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LoadPaths error lacks %q:\n%v", want, err)
		}
	}
}
