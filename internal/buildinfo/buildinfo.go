// Package buildinfo says which build of a module is running: its version
// and the commit it was built from, as the Go toolchain recorded them
// (runtime/debug.ReadBuildInfo). The conformance report and every
// command's --version read it.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Build says which build of a module ran: its module version and
// the commit it was built from, as the Go toolchain recorded them in the
// binary (runtime/debug.ReadBuildInfo). A field the build did not record
// reads "devel" (a version) or "unknown" (a revision), never empty.
type Build struct {
	Module string `yaml:"module"`
	// Version is the module version: a release tag, a pseudo-version, or
	// "devel" for a build from a work tree without one.
	Version string `yaml:"version"`
	// Revision is the VCS commit (vcs.revision), or "unknown" when the
	// build did not stamp it (go run, go test, -buildvcs=false, a build
	// outside a repository, or the suite embedded in another module).
	Revision string `yaml:"revision"`
	// Modified is true when the work tree had uncommitted changes
	// (vcs.modified); false also when unknown.
	Modified bool `yaml:"modified"`
}

// String is the build for people: "devel, commit 0123456789ab
// (modified)" or "v1.2.0, commit unknown".
func (b Build) String() string {
	rev := b.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	s := b.Version + ", commit " + rev
	if b.Modified {
		s += " (modified)"
	}
	return s
}

// Read returns the build of module in this binary.
func Read(module string) Build {
	bi, _ := debug.ReadBuildInfo()
	return Of(bi, module)
}

// Of reads module's build from bi, which may be nil. When module is the
// main module its VCS settings apply; when another module embeds it, only
// the dependency's version is known.
func Of(bi *debug.BuildInfo, module string) Build {
	b := Build{Module: module, Version: "devel", Revision: "unknown"}
	if bi == nil {
		return b
	}
	version := ""
	if bi.Main.Path == module {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					b.Revision = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	} else {
		for _, d := range bi.Deps {
			if d.Path == module {
				version = d.Version
				if d.Replace != nil {
					version = d.Replace.Version
				}
			}
		}
	}
	if version != "" && version != "(devel)" {
		b.Version = version
	}
	if b.Revision == "unknown" {
		// A pseudo-version (v0.0.0-20250101000000-0123456789ab, possibly
		// +dirty) names its commit's first 12 hex digits.
		v := strings.TrimSuffix(b.Version, "+dirty")
		if i := strings.LastIndexByte(v, '-'); i > 0 && len(v)-i-1 == 12 && isHex(v[i+1:]) && strings.Count(v, "-") >= 2 {
			b.Revision = v[i+1:]
		}
	}
	if strings.HasSuffix(b.Version, "+dirty") {
		b.Modified = true
	}
	return b
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
