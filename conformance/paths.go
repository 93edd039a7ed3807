package conformance

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// pathScrubber takes the machine's own absolute paths out of report
// text, so a report names no directory of the machine that ran it: a
// path under the report directory becomes relative to it ("./…"), one
// in the suite's source tree relative to the module ("conformance/…"),
// and the temporary directory, the Go installation and the home
// directory become $TMPDIR, $GOROOT and ~.
type pathScrubber struct {
	prefixes []prefix // longest first
}

type prefix struct{ from, to string }

// newPathScrubber returns the scrubber for a report written to
// reportDir ("" when none).
func newPathScrubber(reportDir string) *pathScrubber {
	s := &pathScrubber{}
	add := func(dir, to string) {
		if dir == "" || !filepath.IsAbs(dir) {
			return
		}
		dir = filepath.Clean(dir)
		if dir == string(filepath.Separator) {
			return
		}
		s.prefixes = append(s.prefixes, prefix{dir, to})
		// The same directory reached through a symbolic link (macOS's
		// /tmp is /private/tmp) is the same directory.
		if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
			s.prefixes = append(s.prefixes, prefix{real, to})
		}
	}
	if reportDir != "" {
		if abs, err := filepath.Abs(reportDir); err == nil {
			add(abs, ".")
		}
	}
	add(sourceRoot(), "")
	add(os.TempDir(), "$TMPDIR")
	add("/tmp", "$TMPDIR")
	//lint:ignore SA1019 the GOROOT this binary was built with is what its own stack traces name, and what a report must not show
	add(runtime.GOROOT(), "$GOROOT")
	if home, err := os.UserHomeDir(); err == nil {
		add(home, "~")
	}
	slices.SortStableFunc(s.prefixes, func(a, b prefix) int { return len(b.from) - len(a.from) })
	return s
}

// sourceRoot is the directory of the suite's module as this binary was
// built from it, or "" when the build trimmed its paths.
func sourceRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	return filepath.Dir(filepath.Dir(file))
}

// Scrub returns text with every known absolute path replaced. Only a
// whole path component matches: /tmp/x does not touch /tmpfoo.
func (s *pathScrubber) Scrub(text string) string {
	if s == nil || text == "" {
		return text
	}
	for _, p := range s.prefixes {
		if !strings.Contains(text, p.from) {
			continue
		}
		var b strings.Builder
		rest := text
		for {
			i := strings.Index(rest, p.from)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(p.from)
			next := byte(0)
			if end < len(rest) {
				next = rest[end]
			}
			prev := byte(0)
			if i > 0 {
				prev = rest[i-1]
			}
			whole := (next == 0 || next == '/' || !isPathByte(next)) && !isPathByte(prev)
			if !whole {
				b.WriteString(rest[:end])
				rest = rest[end:]
				continue
			}
			b.WriteString(rest[:i])
			switch {
			case next == '/' && (p.to == "" || p.to == "."):
				// "/src/conformance/x.go" → "conformance/x.go";
				// "/reports/a/b" → "./a/b".
				if p.to == "." {
					b.WriteString(".")
				} else {
					end++ // drop the separator
				}
			case p.to == "":
				b.WriteString(".")
			default:
				b.WriteString(p.to)
			}
			rest = rest[end:]
		}
		text = b.String()
	}
	return text
}

// isPathByte reports whether c may continue a path component, so a
// match that ends or starts inside a name is not a whole path.
func isPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'
}
