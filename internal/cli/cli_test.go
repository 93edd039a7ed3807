package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	var got []string
	cmds := []Command{
		{"run", func(args []string) int { got = args; return 7 }},
	}
	for _, tc := range []struct {
		args      []string
		code      int
		out, errs string
		ranWith   []string
	}{
		{args: nil, code: ExitUsage, errs: "USAGE"},
		{args: []string{"help"}, code: ExitOK, out: "USAGE"},
		{args: []string{"--help"}, code: ExitOK, out: "USAGE"},
		{args: []string{"help", "run"}, code: 7, ranWith: []string{"--help"}},
		{args: []string{"run", "a", "b"}, code: 7, ranWith: []string{"a", "b"}},
		{args: []string{"frob"}, code: ExitUsage, errs: `prog: unknown command "frob"`},
	} {
		got = nil
		var out, errs bytes.Buffer
		code := Dispatch("prog", "USAGE", tc.args, &out, &errs, cmds...)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errs.String(), tc.errs) {
			t.Errorf("%q: %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out.String(), errs.String(), tc.code, tc.out, tc.errs)
		}
		if strings.Join(got, " ") != strings.Join(tc.ranWith, " ") {
			t.Errorf("%q: ran with %q, want %q", tc.args, got, tc.ranWith)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, list := range []bool{false, true} {
		var out, errs bytes.Buffer
		fs := NewFlagSet("prog", "run", "TEXT\n", &out, &errs, list)
		n := fs.Int("n", 3, "how `many`")
		if code, stop := Parse(fs, []string{"--help"}); !stop || code != ExitOK {
			t.Errorf("--help: %d, %v; want %d, true", code, stop, ExitOK)
		}
		help := out.String()
		if !strings.HasPrefix(help, "TEXT\n") || strings.Contains(help, "-n many") != list || errs.Len() != 0 {
			t.Errorf("listFlags %v: help on stdout %q, stderr %q; want the help on stdout alone", list, help, errs.String())
		}
		out.Reset()
		if code, stop := Parse(fs, []string{"-n", "x"}); !stop || code != ExitUsage {
			t.Errorf("bad value: %d, %v; want %d, true", code, stop, ExitUsage)
		}
		if e := errs.String(); out.Len() != 0 || !strings.Contains(e, "invalid value") || !strings.Contains(e, `Run "prog run --help" for usage.`) {
			t.Errorf("bad value: stdout %q, stderr %q; want the error and a pointer to --help on stderr", out.String(), e)
		}
		if code, stop := Parse(fs, []string{"-n", "5", "rest"}); stop || code != 0 || *n != 5 || fs.Arg(0) != "rest" {
			t.Errorf("good flags: %d, %v, n=%d, args %q", code, stop, *n, fs.Args())
		}
	}
}

func TestVersion(t *testing.T) {
	stamped := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	if got, want := version("encoderd", stamped), "encoderd v1.2.3, commit abc123 (uncommitted changes), go1.26.8"; got != want {
		t.Errorf("stamped build: %q, want %q", got, want)
	}
	tree := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true
	}
	if got, want := version("encodersim", tree), "encodersim devel, commit unknown, go1.26.8"; got != want {
		t.Errorf("unstamped build: %q, want %q", got, want)
	}
	var out, errs bytes.Buffer
	if code := Dispatch("encodersim", "usage\n", []string{"--version"}, &out, &errs); code != ExitOK || !strings.HasPrefix(out.String(), "encodersim ") || errs.Len() != 0 {
		t.Errorf("--version: status %d, stdout %q, stderr %q", code, out.String(), errs.String())
	}
}
