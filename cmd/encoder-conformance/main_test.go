package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
func runBin(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
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
	for _, profile := range []string{"current", "older"} {
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
	_, errOut, _ := runBin(t, t.TempDir(), "run", "--help")
	for _, hidden := range []string{"--process", "--process-report"} {
		if strings.Contains(errOut, hidden) {
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
