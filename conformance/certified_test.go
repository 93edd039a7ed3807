package conformance_test

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/conformance"
)

func TestCertificationProblems(t *testing.T) {
	reg := conformance.Requirements()
	first := reg.For("current")[0].ID
	tests := []struct {
		name   string
		edit   func(*types.Report)
		expect []string // substrings, one per expected problem
	}{
		{"every requirement passed", func(*types.Report) {}, nil},
		{"a requirement without spec", func(r *types.Report) { r.SpecReports = r.SpecReports[1:] },
			[]string{first + ": no spec checks it"}},
		{"a skipped spec", func(r *types.Report) { r.SpecReports[0].State = types.SpecStateSkipped },
			[]string{first + ": 1 of 1 specs did not run: API (skipped)"}},
		{"a pending spec", func(r *types.Report) { r.SpecReports[0].State = types.SpecStatePending },
			[]string{first + ": 1 of 1 specs did not run: API (pending)"}},
		{"a failed spec", func(r *types.Report) { r.SpecReports[0].State = types.SpecStateFailed },
			[]string{first + ": not checked by a passing spec (1 of 1 failed: API)"}},
		{"one of two specs failed", func(r *types.Report) {
			r.SpecReports = append(r.SpecReports, spec(first, "first-issue", types.SpecStateFailed, "boom"))
		}, []string{first + ": failed in 1 of 2 specs: first-issue"}},
		{"one of two specs skipped", func(r *types.Report) {
			r.SpecReports = append(r.SpecReports, spec(first, "first-issue", types.SpecStateSkipped, ""))
		}, []string{first + ": 1 of 2 specs did not run: first-issue (skipped)"}},
		{"a label filter", func(r *types.Report) { r.SuiteConfig.LabelFilter = "api" },
			[]string{`the run was filtered (label filter "api")`}},
		{"a focus", func(r *types.Report) { r.SuiteConfig.FocusStrings = []string{"AUTH"} },
			[]string{`the run was filtered (focus "AUTH")`}},
		{"programmatic focus", func(r *types.Report) { r.SuiteHasProgrammaticFocus = true },
			[]string{"focused specs"}},
		{"a spec of another requirement does not count", func(r *types.Report) {
			r.SpecReports[0].LeafNodeText = "NOT-" + r.SpecReports[0].LeafNodeText
		}, []string{first + ": no spec checks it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := passingReport(t, "current")
			tt.edit(&r)
			got := conformance.CertificationProblems(reg, "current", r)
			if len(got) != len(tt.expect) {
				t.Fatalf("problems = %q, want %d", got, len(tt.expect))
			}
			for i, want := range tt.expect {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d = %q, want it to say %q", i, got[i], want)
				}
			}
		})
	}
}

func TestCertificationProblemsProfiles(t *testing.T) {
	reg := conformance.Requirements()
	// A run of the older profile does not certify the current one, which
	// demands more.
	if p := conformance.CertificationProblems(reg, "current", passingReport(t, "older")); len(p) == 0 {
		t.Error("an older-profile run certifies the current profile")
	}
	if p := conformance.CertificationProblems(reg, "older", passingReport(t, "older")); len(p) != 0 {
		t.Errorf("problems = %q, want none", p)
	}
	if p := conformance.CertificationProblems(reg, "future", passingReport(t, "older")); len(p) != 1 || !strings.Contains(p[0], "unknown profile") {
		t.Errorf("problems for an unknown profile = %q", p)
	}
}
