package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
	"gopkg.in/yaml.v3"
)

// bin is encoder-conformance, built once for the tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "encoder-conformance-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "encoder-conformance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building encoder-conformance: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the program in dir and returns its output and exit code.
func runBin(t testing.TB, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("running %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func TestRequirements(t *testing.T) {
	for _, profile := range []string{"current", "older", "latest"} {
		out, errOut, code := runBin(t, t.TempDir(), "requirements", "--profile", profile)
		if code != exitOK {
			t.Fatalf("%s: exit %d, stderr:\n%s\nstdout:\n%s", profile, code, errOut, out)
		}
		for _, want := range []string{"REQUIREMENT", "AUTH-API-KEY", "API", "first-issue"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the table lacks %q", profile, want)
			}
		}
		var covered, total int
		if _, err := fmt.Sscanf(out[strings.LastIndex(out, "profile "):], "profile "+profile+": %d of %d requirements have a spec", &covered, &total); err != nil {
			t.Fatalf("%s: no totals line: %v\n%s", profile, err, out)
		}
		if covered != total || total == 0 {
			t.Errorf("%s: %d of %d requirements have a spec", profile, covered, total)
		}
		if profile == "older" && strings.Contains(out, "ATTEMPT-ERROR-MESSAGE") {
			t.Error("the older profile lists error.message, which it does not document")
		}
	}
}

func TestRunWritesReports(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runBin(t, dir, "run", "--label-filter", "api", "--procs", "2",
		"--report-dir", "tmp", "--product", "acme-encode", "--version", "1.4.2")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "ok   API") {
		t.Errorf("no progress line for the API container on stderr:\n%s", errOut)
	}
	if !strings.Contains(out, "requirements: ") || !strings.Contains(out, "0 failed") {
		t.Errorf("no summary on stdout:\n%s", out)
	}
	// Not a certified run: it says what it is, and not NOT CERTIFIED.
	for _, want := range []string{"Encoder conformance run", "conformance run: passed", "suite: github.com/encoderlab/encoderlab ", "reports: tmp/junit.xml"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CERTIFIED") {
		t.Errorf("the summary of a run without --certified speaks of certification:\n%s", out)
	}
	reports := filepath.Join(dir, "tmp")

	var suites []types.Report
	readJSON(t, filepath.Join(reports, "ginkgo.json"), &suites)
	if len(suites) != 1 {
		t.Fatalf("ginkgo.json holds %d suite reports, want 1", len(suites))
	}
	ran, api := 0, 0
	for _, s := range suites[0].SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		if s.State == types.SpecStatePassed {
			ran++
			if s.ContainerHierarchyTexts[len(s.ContainerHierarchyTexts)-1] == "API" {
				api++
			}
		}
	}
	if ran == 0 || ran != api {
		t.Errorf("ginkgo.json: %d specs passed, %d of them in the API container; want only API specs, some", ran, api)
	}

	var junit struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	b, err := os.ReadFile(filepath.Join(reports, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &junit); err != nil || junit.Tests == 0 || junit.Failures != 0 {
		t.Errorf("junit.xml: %d tests, %d failures, err %v", junit.Tests, junit.Failures, err)
	}

	var cert struct {
		Product   string
		Version   string
		Certified bool
		Profile   struct{ ID string }
		Target    struct{ Kind string }
		Totals    struct{ Requirements, Passed, Failed int }
		Scenarios struct{ Digest string }
	}
	b, err = os.ReadFile(filepath.Join(reports, "certification.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cert); err != nil {
		t.Fatal(err)
	}
	if cert.Product != "acme-encode" || cert.Version != "1.4.2" || cert.Profile.ID != "current" || cert.Target.Kind != "in-process" {
		t.Errorf("certification.yaml: %+v", cert)
	}
	if cert.Totals.Passed == 0 || cert.Totals.Failed != 0 || cert.Totals.Passed == cert.Totals.Requirements || len(cert.Scenarios.Digest) != 64 {
		t.Errorf("certification.yaml totals %+v, digest %q: want some passed, none failed, not all (filtered)", cert.Totals, cert.Scenarios.Digest)
	}
	if cert.Certified {
		t.Error("certification.yaml: a filtered run is certified")
	}
	html, err := os.ReadFile(filepath.Join(reports, "certification.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("AUTH-API-KEY")) || !bytes.Contains(html, []byte("acme-encode")) {
		t.Error("certification.html lacks the requirements or the product")
	}
}

// containers returns, for a ginkgo.json, how many specs of each
// container passed and how many did not run.
func containers(t *testing.T, path string) (passed, skipped map[string]int) {
	t.Helper()
	var suites []types.Report
	readJSON(t, path, &suites)
	if len(suites) != 1 {
		t.Fatalf("%s holds %d suite reports, want 1", path, len(suites))
	}
	passed, skipped = map[string]int{}, map[string]int{}
	for _, s := range suites[0].SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || len(s.ContainerHierarchyTexts) == 0 {
			continue
		}
		c := s.ContainerHierarchyTexts[len(s.ContainerHierarchyTexts)-1]
		switch s.State {
		case types.SpecStatePassed:
			passed[c]++
		case types.SpecStateSkipped:
			skipped[c]++
		default:
			t.Errorf("%s: spec %q in %s: %s", path, s.LeafNodeText, c, s.State)
		}
	}
	return passed, skipped
}

// TestRunScenariosFromFiles runs a scenario file of one's own: with
// --scenarios alone it replaces the bundled set; with --bundled it runs
// beside it.
func TestRunScenariosFromFiles(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../scenarios/first-issue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "mine"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine := strings.Replace(string(data), "name: first-issue\n", "name: my-first-issue\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "mine", "my-first-issue.yaml"), []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runBin(t, dir, "run", "--scenarios", "mine", "--report-dir", "alone")
	if code != exitOK {
		t.Fatalf("--scenarios mine: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	passed, skipped := containers(t, filepath.Join(dir, "alone", "ginkgo.json"))
	if len(passed) != 2 || passed["API"] == 0 || passed["my-first-issue"] == 0 || len(skipped) != 0 {
		t.Errorf("--scenarios mine ran %v (skipped %v), want the API container and my-first-issue only", passed, skipped)
	}
	var cert struct {
		Scenarios struct{ Files []struct{ Name string } }
	}
	b, err := os.ReadFile(filepath.Join(dir, "alone", "certification.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cert); err != nil {
		t.Fatal(err)
	}
	if f := cert.Scenarios.Files; len(f) != 1 || f[0].Name != filepath.Join("mine", "my-first-issue.yaml") {
		t.Errorf("certification.yaml lists the scenario files %+v, want mine/my-first-issue.yaml alone", f)
	}

	out, errOut, code = runBin(t, dir, "run", "--scenarios", "mine", "--bundled", "--report-dir", "both",
		"--label-filter", "scenario:my-first-issue || scenario:empty-reader")
	if code != exitOK {
		t.Fatalf("--scenarios mine --bundled: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	passed, skipped = containers(t, filepath.Join(dir, "both", "ginkgo.json"))
	if len(passed) != 2 || passed["my-first-issue"] == 0 || passed["empty-reader"] == 0 {
		t.Errorf("--bundled with a label filter ran %v, want my-first-issue and empty-reader", passed)
	}
	if skipped["first-issue"] == 0 || skipped["API"] == 0 {
		t.Errorf("--bundled: the bundled set is not in the run (filtered out: %v)", skipped)
	}
}

// TestSetupErrors: what would fail every spec alike is reported once,
// before anything runs, with what to fix, and exit status 2.
func TestSetupErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const rest = "credential: {system: visionline-hotel}\nexpect: {status: success}\n"
	write("unfit.yaml", "name: unfit\nencoder: {model: pms, id: front-desk-9}\n"+rest)
	write("broken.yaml", "name: broken\nencoder: {model: pms, id: front-desk-1}\n")
	write("empty-reader.yaml", "name: empty-reader\nencoder: {model: pms, id: front-desk-1}\n"+rest)
	write("a-file", "")
	write("kills.yaml", "name: kills\nencoder: {model: pms, id: front-desk-1}\nsteps:\n  - server: kill\n"+rest)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"a scenario that does not fit the lab", []string{"--scenarios", "unfit.yaml"},
			[]string{`unfit.yaml:2:27: encoder.id: the lab has no encoder "front-desk-9"`, "encodersim lint unfit.yaml"}},
		{"a scenario that does not load", []string{"--scenarios", "broken.yaml"},
			[]string{"the --scenarios files do not load", "broken.yaml:"}},
		{"a bundled name twice", []string{"--scenarios", "empty-reader.yaml", "--bundled"},
			[]string{`empty-reader.yaml is named "empty-reader", as a bundled scenario is`}},
		{"an external server that does not answer", []string{"--target", "external", "--api-url", closed, "--links", filepath.Join(dir, "links")},
			[]string{"external server at " + closed + " does not answer", "connection refused"}},
		{"a port with no device", []string{"--hardware", "--port", "front-desk-1=" + filepath.Join(dir, "ttyUSB9")},
			[]string{"port front-desk-1=" + filepath.Join(dir, "ttyUSB9") + ": no such device"}},
		{"a server step the target cannot take", []string{"--scenarios", "kills.yaml"},
			[]string{"kills.yaml step 1 (line 4, server kill) acts on the system under test", "--target encoderd"}},
		{"no encoderd binary", []string{"--target", "encoderd", "--encoderd", filepath.Join(dir, "no-encoderd")},
			[]string{"--encoderd: ", "no-encoderd: no such file"}},
		{"a report directory that cannot be written", []string{"--report-dir", filepath.Join(dir, "a-file", "reports")},
			[]string{"report directory " + filepath.Join(dir, "a-file", "reports") + " cannot be written"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run"}, tc.args...)
			if !slices.Contains(tc.args, "--report-dir") {
				args = append(args, "--report-dir", filepath.Join(dir, "reports-"+strings.ReplaceAll(tc.name, " ", "-")))
			}
			out, errOut, code := runBin(t, dir, args...)
			if code != exitSetup {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitSetup, out, errOut)
			}
			if n := strings.Count(errOut, "setup error, nothing ran"); n != 1 {
				t.Errorf("stderr says %d times that nothing ran, want once:\n%s", n, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if out != "" || strings.Contains(errOut, "FAIL") || strings.Contains(errOut, "containers in") {
				t.Errorf("something ran:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}
}

func TestCertifiedFailsWhenFiltered(t *testing.T) {
	out, errOut, code := runBin(t, t.TempDir(), "run", "--certified", "--label-filter", "api", "--report-dir", "r")
	if code != exitFail {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFail, out, errOut)
	}
	for _, want := range []string{"Encoder certification run", "NOT CERTIFIED: ", `the run was filtered (label filter "api")`, "specs did not run"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"run", "--profile", "future"},
		{"run", "--target", "external"},
		{"run", "--target", "external", "--api-url", "http://127.0.0.1:1", "--links", "/tmp/x", "--procs", "2"},
		{"run", "--api-url", "http://127.0.0.1:1"},
		{"run", "--pat", "seam_at_x"},
		{"run", "--port", "front-desk-1=/dev/ttyUSB0"},
		{"run", "--hardware"},
		{"run", "--hardware", "--port", "nonsense"},
		{"run", "--procs", "0"},
		{"run", "--shard", "3/2"},
		{"run", "--scale", "-1"},
		{"run", "stray"},
		{"run", "--scenarios", ""},
		{"run", "--encoderd", "/usr/bin/true"},
		{"run", "--target", "encoderd", "--api-url", "http://127.0.0.1:1"},
		{"run", "--target", "nowhere"},
		{"requirements", "--profile", "future"},
	} {
		out, errOut, code := runBin(t, t.TempDir(), args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, exitUsage, out, errOut)
		}
		if errOut == "" {
			t.Errorf("%q: nothing said on stderr", args)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"run", "--help"}, {"help", "requirements"}} {
		out, errOut, code := runBin(t, t.TempDir(), args...)
		if code != exitOK {
			t.Errorf("%q: exit %d", args, code)
		}
		if !strings.Contains(out+errOut, "Usage:") {
			t.Errorf("%q: no usage text", args)
		}
	}
	help, errOut, _ := runBin(t, t.TempDir(), "run", "--help")
	if errOut != "" {
		t.Errorf("run --help wrote on stderr: %q", errOut)
	}
	for _, want := range []string{"--scenarios FILE|DIR", "--bundled", "Exit status:", "2  nothing ran: a usage error", "setup error"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help does not document %q", want)
		}
	}
	for _, hidden := range []string{"--process", "--process-report"} {
		if strings.Contains(help, hidden) {
			t.Errorf("run --help shows the internal flag %s", hidden)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
