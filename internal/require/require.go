// Package require decides what a test does when something it needs from
// the machine is missing: a program (node, nfc-list, initdb), a package
// the Makefile installs, or a privilege (mounting a small filesystem).
//
// On a developer's machine the test is skipped, saying what to install.
// Where every check must run, it fails instead: with CI=true (as CI
// services set it) or ENCODERLAB_REQUIRE=all (as .ci/run does), a missing
// tool is a failure, never a green run that checked nothing.
package require

import (
	"fmt"
	"os"
	"strings"
)

// TB is the part of testing.TB this package uses.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// All reports whether every check must run: CI=true, or
// ENCODERLAB_REQUIRE=all.
func All() bool {
	return strings.EqualFold(os.Getenv("CI"), "true") || os.Getenv("ENCODERLAB_REQUIRE") == "all"
}

// Missing ends the test because something it needs is missing: a skip,
// or a failure when All. format says what is missing and how to get it.
func Missing(t TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if All() {
		t.Fatal(msg + " (CI=true or ENCODERLAB_REQUIRE=all: a missing tool fails the run)")
		return
	}
	t.Skip(msg)
}
