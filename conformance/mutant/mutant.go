package mutant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/encoderlab/encoderlab/conformance"
)

// Mutant is a pipeline that breaks one promise of the spec.
type Mutant struct {
	// Name selects the mutant (ENCODERLAB_MUTANT=<Name>).
	Name string
	// Breaks is the promise it breaks, in one line.
	Breaks string
	// Target starts it: the real pipeline behind the breaking proxy.
	Target conformance.Target
	// Labels, when set, is the Ginkgo label filter the kill test runs
	// the suite with instead of the whole suite, for a mutant that makes
	// every scenario wait out its deadline. The filter must still select
	// the specs that catch the mutant.
	Labels string
	// Profile, when set, is the profile the kill test runs the suite
	// with (ENCODERLAB_PROFILE) instead of current: for a mutant that
	// breaks a promise only that profile makes.
	Profile string
}

// EnvVar names the environment variable that selects a mutant for the
// conformance test binary (conformance/conformance_test.go reads it).
const EnvVar = "ENCODERLAB_MUTANT"

// Control is the real pipeline behind the same proxy, breaking nothing.
var Control = Mutant{
	Name:   "control",
	Breaks: "nothing: every answer is passed on as the pipeline gave it",
	Target: proxied(func(env) rewrite { return rewrite{} }),
}

// All is every mutant, in the order the kill table lists them.
var All = mutants()

// Names returns the name of every mutant in All.
func Names() []string {
	names := make([]string, len(All))
	for i, m := range All {
		names[i] = m.Name
	}
	return names
}

// Lookup finds a mutant of All, or Control, by name.
func Lookup(name string) (Mutant, bool) {
	if name == Control.Name {
		return Control, true
	}
	for _, set := range [][]Mutant{All, Systematic} {
		if i := slices.IndexFunc(set, func(m Mutant) bool { return m.Name == name }); i >= 0 {
			return set[i], true
		}
	}
	return Mutant{}, false
}

// Target returns the target of the named mutant. It panics on an unknown
// name, listing the known ones: a misspelt ENCODERLAB_MUTANT must stop
// the run, not make it fail everywhere and look like a kill.
func Target(name string) conformance.Target {
	m, ok := Lookup(name)
	if !ok {
		panic(fmt.Sprintf("%s=%q: no such mutant; known: %s, %s", EnvVar, name, Control.Name, strings.Join(Names(), ", ")))
	}
	return m.Target
}
