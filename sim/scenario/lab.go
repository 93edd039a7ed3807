package scenario

import (
	"fmt"
	"slices"
	"strings"

	"github.com/encoderlab/encoderlab/fixtures"
)

// CheckLab reports what in s does not fit lab, the workspaces, ACS
// systems, users and encoders a pipeline serves (fixtures/lab.yaml for
// the bundled one): the encoder encoder.id names must be one of the
// lab's; the lab must drive it with the scenario's model (a replay
// encoder's protocol), when its driver is named after a model (pms,
// pn532: a driver of another name, a vendor's, speaks what its vendor
// says, which the lab does not record); credential.system must be an ACS system of that
// encoder's workspace, and the encoder's own, since an encoder writes
// the credentials of its system; credential.user must be a user of that
// system. A scenario that loads but does not fit cannot run: the suite
// would find no encoder, or drive a device with the wrong protocol.
//
// Every problem is reported, as a *LoadError with the position of the
// key at fault, so it prints like a load problem; nil when s fits.
// encodersim lint and the conformance suite both check with it.
func CheckLab(s *Scenario, lab *fixtures.Lab) error {
	var problems []Problem
	add := func(at Pos, format string, args ...any) {
		problems = append(problems, Problem{Line: at.Line, Column: at.Column, Msg: fmt.Sprintf(format, args...)})
	}
	all := s.AllEncoders()
	var sys *fixtures.System
	for i, e := range all {
		what := "encoder"
		if len(s.Encoders) > 1 {
			what = fmt.Sprintf("encoders[%d]", i)
		}
		protocol := e.LineProtocol()
		ws, enc := LabEncoder(lab, e.ID)
		if enc == nil {
			add(e.IDAt, "%s.id: the lab has no encoder %q (%s)", what, e.ID, encoderList(lab, protocol))
			continue
		}
		if enc.Driver != protocol && slices.Contains(Models(), enc.Driver) {
			msg, at := what+".model: ", e.ModelAt
			if e.Model == ReplayModel && e.ProtocolAt != (Pos{}) {
				msg, at = what+".protocol: a replay of ", e.ProtocolAt
			}
			add(at, "%s%s, but the lab drives %s with %s (%s)", msg, protocol, enc.DisplayName, enc.Driver, encoderList(lab, protocol))
		}
		got := ws.System(s.Credential.System)
		if got != nil && sys != nil && got != sys {
			add(e.IDAt, "%s.id: encoder %s is in another workspace than %s; a scenario's encoders share one desk, and one workspace",
				what, enc.DisplayName, all[0].ID)
		}
		if sys == nil {
			sys = got
		}
		switch {
		case got == nil:
			add(s.Credential.SystemAt, "credential.system: workspace %q has no ACS system %q (encoder %s belongs to %s)",
				ws.Name, s.Credential.System, enc.DisplayName, enc.System)
		case got.Key != enc.System:
			add(s.Credential.SystemAt, "credential.system: %s, but encoder %s belongs to %s, and an encoder writes the credentials of its own system",
				s.Credential.System, enc.DisplayName, enc.System)
		}
	}
	if sys != nil && sys.User(s.Credential.User) == nil {
		at := s.Credential.UserAt
		if at == (Pos{}) {
			at = s.Credential.SystemAt
		}
		var users []string
		for _, u := range sys.Users {
			users = append(users, u.Key)
		}
		add(at, "credential.user: ACS system %s has no user %q (its users: %s)", sys.Key, s.Credential.User, strings.Join(users, ", "))
	}
	return loadError(s.File, problems)
}

func loadError(file string, problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return &LoadError{File: file, Problems: problems}
}

// LineProtocol is the protocol the encoder speaks on its line, which
// the lab's driver for it must speak: the model's own, or a replay
// encoder's protocol.
func (e Encoder) LineProtocol() string {
	if e.Model == ReplayModel {
		return e.Protocol
	}
	return e.Model
}

// LabEncoder finds the encoder whose display name is name, and its
// workspace; nil, nil when the lab has none.
func LabEncoder(lab *fixtures.Lab, name string) (*fixtures.Workspace, *fixtures.Encoder) {
	for _, ws := range lab.Workspaces {
		for _, e := range ws.Encoders {
			if e.DisplayName == name {
				return ws, e
			}
		}
	}
	return nil, nil
}

// LabEncoders lists, in lab order, the encoders the lab drives with
// protocol.
func LabEncoders(lab *fixtures.Lab, protocol string) []*fixtures.Encoder {
	var out []*fixtures.Encoder
	for _, ws := range lab.Workspaces {
		for _, e := range ws.Encoders {
			if e.Driver == protocol {
				out = append(out, e)
			}
		}
	}
	return out
}

// encoderList names the lab's encoders of protocol, or all of them when
// it has none, for a problem's hint.
func encoderList(lab *fixtures.Lab, protocol string) string {
	var names []string
	for _, e := range LabEncoders(lab, protocol) {
		names = append(names, e.DisplayName)
	}
	if len(names) > 0 {
		return fmt.Sprintf("its %s encoders: %s", protocol, strings.Join(names, ", "))
	}
	for _, ws := range lab.Workspaces {
		for _, e := range ws.Encoders {
			names = append(names, e.DisplayName+" ("+e.Driver+")")
		}
	}
	if len(names) == 0 {
		return "it has no encoders"
	}
	return fmt.Sprintf("it has no %s encoder; its encoders: %s", protocol, strings.Join(names, ", "))
}
