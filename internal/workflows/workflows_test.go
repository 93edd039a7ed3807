package workflows

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rhysd/actionlint"
)

const (
	workflow = "../../.github/workflows/conformance.yml"
	guide    = "../../docs/ci.md"
)

// The workflow docs/ci.md shows is the one in the repository, byte for
// byte, so a reader copying it gets what CI runs.
func TestGuideShowsTheWorkflow(t *testing.T) {
	file, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(doc, []byte("```yaml\n"))
	if start < 0 {
		t.Fatalf("%s has no yaml block", guide)
	}
	block := doc[start+len("```yaml\n"):]
	end := bytes.Index(block, []byte("```\n"))
	if end < 0 {
		t.Fatalf("%s: the yaml block does not end", guide)
	}
	if got := block[:end]; !bytes.Equal(got, file) {
		t.Errorf("the workflow in %s differs from %s; copy the file into the guide", guide, workflow)
	}
}

// actionlint (rhysd/actionlint, the linter GitHub's own docs point to)
// finds no problem in any workflow.
func TestWorkflowsPassActionlint(t *testing.T) {
	files, err := filepath.Glob("../../.github/workflows/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflow files found (%v)", err)
	}
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		errs, err := l.LintFile(f, nil)
		if err != nil {
			t.Fatalf("actionlint %s: %v", f, err)
		}
		for _, e := range errs {
			t.Errorf("actionlint: %s:%d:%d: %s [%s]", filepath.Base(f), e.Line, e.Column, e.Message, e.Kind)
		}
	}
}
