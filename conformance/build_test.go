package conformance

import (
	"runtime/debug"
	"testing"
)

func TestBuildOf(t *testing.T) {
	main := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want SuiteBuild
		text string
	}{
		{"no build info", nil,
			SuiteBuild{Module: ModulePath, Version: "devel", Revision: "unknown", Modified: false}, "devel, commit unknown"},
		{"go run: devel, no VCS", main("(devel)"),
			SuiteBuild{Module: ModulePath, Version: "devel", Revision: "unknown", Modified: false}, "devel, commit unknown"},
		{"go build in a work tree with changes",
			main("(devel)", "vcs", "git", "vcs.revision", "a714f31c0ffee0123456789abcdef0123456789a", "vcs.modified", "true"),
			SuiteBuild{Module: ModulePath, Version: "devel", Revision: "a714f31c0ffee0123456789abcdef0123456789a", Modified: true}, "devel, commit a714f31c0ffe (modified)"},
		{"a tagged release", main("v1.4.2", "vcs.revision", "0123456789abcdef", "vcs.modified", "false"),
			SuiteBuild{Module: ModulePath, Version: "v1.4.2", Revision: "0123456789abcdef", Modified: false}, "v1.4.2, commit 0123456789ab"},
		{"a pseudo-version names its commit", main("v0.0.0-20261203150307-a714f31c0ffe+dirty"),
			SuiteBuild{Module: ModulePath, Version: "v0.0.0-20261203150307-a714f31c0ffe+dirty", Revision: "a714f31c0ffe", Modified: true}, "v0.0.0-20261203150307-a714f31c0ffe+dirty, commit a714f31c0ffe (modified)"},
		{"embedded in another module: the dependency's version",
			&debug.BuildInfo{Main: debug.Module{Path: "example.com/acme", Version: "v2.0.0"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "ffffffffffff"}},
				Deps:     []*debug.Module{{Path: ModulePath, Version: "v1.3.0"}}},
			SuiteBuild{Module: ModulePath, Version: "v1.3.0", Revision: "unknown", Modified: false}, "v1.3.0, commit unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildOf(tt.bi)
			if got != tt.want {
				t.Errorf("buildOf = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.text {
				t.Errorf("String() = %q, want %q", s, tt.text)
			}
		})
	}
}

func TestPathScrubber(t *testing.T) {
	s := &pathScrubber{prefixes: []prefix{
		{"/work/reports/conformance", "."},
		{"/work/src", ""},
		{"/home/bob", "~"},
		{"/tmp", "$TMPDIR"},
	}}
	for _, tt := range []struct{ in, want string }{
		{"trace in /work/reports/conformance/first-issue/TRACE.jsonl", "trace in ./first-issue/TRACE.jsonl"},
		{"at /work/src/conformance/suite.go:110", "at conformance/suite.go:110"},
		{"scenario /home/bob/lab/x.yaml", "scenario ~/lab/x.yaml"},
		{"link /tmp/ginkgo123/links/front-desk-1: gone", "link $TMPDIR/ginkgo123/links/front-desk-1: gone"},
		{`"/tmp"`, `"$TMPDIR"`},
		{"/tmpfoo/x and /var/tmp/x stay", "/tmpfoo/x and /var/tmp/x stay"},
		{"http://127.0.0.1:8450/acs/encoders/list", "http://127.0.0.1:8450/acs/encoders/list"},
	} {
		got := tt.in
		for _, p := range s.prefixes {
			got = (&pathScrubber{prefixes: []prefix{p}}).Scrub(got)
		}
		if got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
