package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestHelpMatchesTheFlags keeps each command's prose and its flags in
// step: --help prints the usage text, then the flag set's own defaults,
// so every flag is listed; a flag the prose names must be one of them.
func TestHelpMatchesTheFlags(t *testing.T) {
	defaults := regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)
	mention := regexp.MustCompile(`(?:^|[\s\[(])--?([a-z][a-z0-9-]*)`)
	for _, cmd := range []string{"run", "load", "fleet", "serve"} {
		t.Run(cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := dispatch(context.Background(), []string{cmd, "--help"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				t.Fatalf("%s --help exited %d, want 0; stderr:\n%s", cmd, code, stderr.String())
			}
			help := stdout.String() + stderr.String()
			prose, flags, ok := strings.Cut(help, "\nFlags:\n")
			if !ok {
				t.Fatalf("%s --help has no Flags: section:\n%s", cmd, help)
			}
			defined := map[string]bool{}
			for _, m := range defaults.FindAllStringSubmatch(flags, -1) {
				defined[m[1]] = true
			}
			if len(defined) == 0 {
				t.Fatalf("%s --help lists no flags:\n%s", cmd, flags)
			}
			for _, m := range mention.FindAllStringSubmatch(prose, -1) {
				if name := m[1]; !defined[name] && name != "help" {
					t.Errorf("%s --help mentions --%s, which %s does not take (it takes %v)", cmd, name, cmd, keys(defined))
				}
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
