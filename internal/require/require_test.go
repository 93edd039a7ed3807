package require

import (
	"fmt"
	"testing"
)

type recorder struct {
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

func TestMissing(t *testing.T) {
	for _, c := range []struct {
		ci, require string
		fails       bool
	}{
		{"", "", false},
		{"false", "", false},
		{"true", "", true},
		{"TRUE", "", true},
		{"", "all", true},
		{"", "some", false},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv("ENCODERLAB_REQUIRE", c.require)
		var r recorder
		Missing(&r, "node not found: install %s", "Node.js")
		if c.fails {
			if r.failed == "" || r.skipped != "" {
				t.Errorf("CI=%q ENCODERLAB_REQUIRE=%q: skipped %q, failed %q; want a failure", c.ci, c.require, r.skipped, r.failed)
			}
		} else if r.skipped != "node not found: install Node.js" || r.failed != "" {
			t.Errorf("CI=%q ENCODERLAB_REQUIRE=%q: skipped %q, failed %q; want the skip", c.ci, c.require, r.skipped, r.failed)
		}
	}
}
