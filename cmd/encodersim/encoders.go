package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// encoderFlags collects run's --encoder [SCENARIO=]NAME.
type encoderFlags []encoderChoice

type encoderChoice struct{ scenario, name string }

func (e *encoderFlags) String() string { return "" }

func (e *encoderFlags) Set(s string) error {
	sc, name, ok := strings.Cut(s, "=")
	if !ok {
		sc, name = "", s
	}
	if name == "" || (ok && sc == "") {
		return fmt.Errorf("want NAME or SCENARIO=NAME, e.g. front-desk-2 or busy-then-success=front-desk-2")
	}
	*e = append(*e, encoderChoice{sc, name})
	return nil
}

// assignEncoders decides which encoder each scenario plays on: the one
// --encoder gives it, else its own, else (its own taken by an earlier
// scenario) the lab's next free encoder of its model. It rewrites scs in
// place and says on stderr each scenario that moved. It returns false
// with the exit code when the choice cannot be made: a usage error for
// an --encoder the lab lacks or drives with another model, a failure
// when a model's encoders are all taken.
func assignEncoders(scs []*scenario.Scenario, args []string, flags encoderFlags, lab *fixtures.Lab, stderr io.Writer) (int, bool) {
	usage := func(format string, a ...any) (int, bool) {
		fmt.Fprintf(stderr, "encodersim run: --encoder %s\nRun \"encodersim run --help\" for usage.\n", fmt.Sprintf(format, a...))
		return exitUsage, false
	}
	chosen := make([]string, len(scs))
	for _, f := range flags {
		i := -1
		switch {
		case f.scenario == "" && len(scs) > 1:
			return usage("%s: %d scenarios given; say which one plays there, --encoder SCENARIO=%s", f.name, len(scs), f.name)
		case f.scenario == "":
			i = 0
		default:
			for j, sc := range scs {
				if sc.Name == f.scenario || args[j] == f.scenario {
					i = j
					break
				}
			}
			if i < 0 {
				return usage("%s=%s: no scenario %q among the arguments", f.scenario, f.name, f.scenario)
			}
		}
		if chosen[i] != "" {
			return usage("%s: scenario %s is given two encoders, %s and %s", f.name, scs[i].Name, chosen[i], f.name)
		}
		sc := scs[i]
		if n := len(sc.AllEncoders()); n > 1 {
			return usage("%s: %s has %d encoders and plays on its own", f.name, sc.Name, n)
		}
		protocol := sc.Encoder.LineProtocol()
		if _, e := scenario.LabEncoder(lab, f.name); e == nil || e.Driver != protocol {
			what := "has no encoder " + f.name
			if e != nil {
				what = fmt.Sprintf("drives %s with %s", f.name, e.Driver)
			}
			return usage("%s: %s is a %s scenario, and the lab %s (its %s encoders: %s)",
				f.name, sc.Name, protocol, what, protocol, names(scenario.LabEncoders(lab, protocol)))
		}
		chosen[i] = f.name
	}

	taken := map[string]string{} // encoder → the scenario file playing there
	// A scenario of several encoders plays on its own, which no other
	// scenario may take.
	for i, sc := range scs {
		if len(sc.AllEncoders()) < 2 {
			continue
		}
		for _, e := range sc.AllEncoders() {
			if prev, dup := taken[e.ID]; dup {
				fmt.Fprintf(stderr, "%s: encoder %s is already run by %s; a scenario of several encoders plays on its own: run it alone\n", args[i], e.ID, prev)
				return exitFail, false
			}
			taken[e.ID] = sc.File
		}
		chosen[i] = sc.Encoder.ID
	}
	for i, name := range chosen {
		if name == "" || len(scs[i].AllEncoders()) > 1 {
			continue
		}
		if prev, dup := taken[name]; dup {
			return usage("%s: given to both %s and %s; one encoder plays one scenario", name, prev, scs[i].File)
		}
		taken[name] = scs[i].File
	}
	for i, sc := range scs {
		if chosen[i] != "" {
			continue
		}
		own := sc.Encoder.ID
		if _, busy := taken[own]; !busy {
			chosen[i] = own
			taken[own] = sc.File
			continue
		}
		protocol := sc.Encoder.LineProtocol()
		for _, e := range scenario.LabEncoders(lab, protocol) {
			if _, busy := taken[e.DisplayName]; !busy {
				chosen[i] = e.DisplayName
				break
			}
		}
		if chosen[i] == "" {
			fmt.Fprintf(stderr, "%s: encoder %s is already run by %s, and every %s encoder of the lab is taken (%s): run fewer scenarios at once\n",
				args[i], own, taken[own], protocol, names(scenario.LabEncoders(lab, protocol)))
			return exitFail, false
		}
		fmt.Fprintf(stderr, "%s: encoder %s is already run by %s; playing on %s, the lab's next free %s encoder\n",
			args[i], own, taken[own], chosen[i], protocol)
		taken[chosen[i]] = sc.File
	}

	for i, sc := range scs {
		if chosen[i] != sc.Encoder.ID {
			scs[i] = sc.MovedTo(chosen[i])
			continue
		}
		// A scenario on its own encoder may name one the lab lacks (a
		// converted trace, another lab): it plays, but say so.
		protocol := sc.Encoder.LineProtocol()
		switch _, e := scenario.LabEncoder(lab, sc.Encoder.ID); {
		case e == nil:
			fmt.Fprintf(stderr, "%s: note: the lab has no encoder %s, so encoderd on that lab will not drive it (its %s encoders: %s)\n",
				args[i], sc.Encoder.ID, protocol, names(scenario.LabEncoders(lab, protocol)))
		case e.Driver != protocol:
			fmt.Fprintf(stderr, "%s: note: the lab drives %s with %s, not %s: encoderd on that lab will speak the wrong protocol to it\n",
				args[i], sc.Encoder.ID, e.Driver, protocol)
		}
	}
	return 0, true
}

func names(encs []*fixtures.Encoder) string {
	var out []string
	for _, e := range encs {
		out = append(out, e.DisplayName)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
