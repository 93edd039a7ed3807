package conformance

import (
	"runtime/debug"

	"github.com/encoderlab/encoderlab/internal/buildinfo"
)

// ModulePath is the suite's Go module.
const ModulePath = "github.com/encoderlab/encoderlab"

// SuiteBuild says which build of the suite ran: its module version and
// the commit it was built from. A field the build did not record reads
// "devel" (a version) or "unknown" (a revision), never empty.
type SuiteBuild = buildinfo.Build

// Build returns the build of the suite running in this binary.
func Build() SuiteBuild { return buildinfo.Read(ModulePath) }

// buildOf reads the suite's build from bi, which may be nil.
func buildOf(bi *debug.BuildInfo) SuiteBuild { return buildinfo.Of(bi, ModulePath) }
