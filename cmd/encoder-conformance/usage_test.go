package main

import (
	"flag"
	"io"
	"regexp"
	"testing"
)

// run's help is written by hand to group its flags; it must name every
// flag the command takes and no flag it does not, so the two cannot drift.
func TestRunUsageListsEveryFlag(t *testing.T) {
	fs := runFlags(&options{}, io.Discard, io.Discard)
	defined := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { defined[f.Name] = true })

	mentioned := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)(?:^|[\s\[(])--?([a-z][a-z0-9-]*)`).FindAllStringSubmatch(runUsage, -1) {
		mentioned[m[1]] = true
	}
	for name := range defined {
		if !hiddenRunFlags[name] && !mentioned[name] {
			t.Errorf("run takes --%s, but its help does not mention it", name)
		}
	}
	for name := range mentioned {
		if !defined[name] && name != "help" {
			t.Errorf("run's help mentions --%s, which run does not take", name)
		}
	}
}
