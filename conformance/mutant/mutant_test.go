package mutant_test

import (
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/conformance/mutant"
)

func TestMutantsAreNamedAndDescribed(t *testing.T) {
	if len(mutant.All) < 15 {
		t.Errorf("%d mutants; the suite's power is shown by at least 15", len(mutant.All))
	}
	seen := map[string]bool{mutant.Control.Name: true}
	for _, m := range mutant.All {
		switch {
		case m.Name == "" || strings.ContainsAny(m.Name, " =/"):
			t.Errorf("mutant %q: a name must be a plain word usable in %s=<name> and as a file name", m.Name, mutant.EnvVar)
		case seen[m.Name]:
			t.Errorf("mutant %q: name used twice", m.Name)
		case m.Breaks == "":
			t.Errorf("mutant %s: says not which promise it breaks", m.Name)
		case m.Target == nil:
			t.Errorf("mutant %s: has no target", m.Name)
		}
		seen[m.Name] = true
	}
}

func TestLookupFindsEveryMutantAndTheControl(t *testing.T) {
	for _, name := range append(mutant.Names(), mutant.Control.Name) {
		m, ok := mutant.Lookup(name)
		if !ok || m.Name != name {
			t.Errorf("Lookup(%q) = %q, %v; want the mutant of that name", name, m.Name, ok)
		}
	}
	if m, ok := mutant.Lookup("no-such-mutant"); ok {
		t.Errorf("Lookup(no-such-mutant) = %q, true; want false", m.Name)
	}
}

func TestTargetRefusesAnUnknownName(t *testing.T) {
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "no-such-mutant") || !strings.Contains(msg, mutant.All[0].Name) {
			t.Errorf("Target(no-such-mutant) panicked with %q; want the name and the known mutants", msg)
		}
	}()
	mutant.Target("no-such-mutant")
	t.Error("Target(no-such-mutant) returned; want a panic naming the known mutants")
}
