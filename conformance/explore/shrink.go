package explore

import (
	"slices"
	"strings"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Shrink returns the desks one step smaller than d, each a valid
// scenario on lab: one encode, step, card or encoder fewer, a down
// spell of the server gone or made a kill, a wait shorter, an encode no longer concurrent, the credential back to the
// guest user and the default validity. The explorer keeps the
// smallest that still breaks what d broke, and shrinks again, until none
// does (QuickCheck's shrinking, greedy).
func Shrink(d *Desk, lab *fixtures.Lab) []*Desk {
	var out []*Desk
	try := func(c *Desk) {
		if len(c.Encodes) > 0 {
			c.Encodes[0].Concurrent = false
		}
		if Valid(c, lab) == nil {
			out = append(out, c)
		}
	}
	for gi := range d.Encoders {
		if len(d.Encoders) < 2 {
			break
		}
		// An encoder goes, with what happens on it; its encodes move to
		// the first encoder left, or go with it. "" names the first.
		gone := d.Encoders[gi].ID
		on := func(id string) string {
			if id == "" {
				return d.Encoders[0].ID
			}
			return id
		}
		for _, keep := range []bool{true, false} {
			c := d.clone()
			c.Encoders = slices.Delete(c.Encoders, gi, gi+1)
			first := c.Encoders[0].ID
			c.Steps = slices.DeleteFunc(c.Steps, func(s Step) bool { return on(s.On) == gone })
			if !keep {
				c.Encodes = slices.DeleteFunc(c.Encodes, func(e Encode) bool { return on(e.On) == gone })
			}
			for i := range c.Steps {
				if on(c.Steps[i].On) == first {
					c.Steps[i].On = ""
				}
			}
			for i := range c.Encodes {
				if o := on(c.Encodes[i].On); o == gone || o == first {
					c.Encodes[i].On = ""
				}
			}
			if len(c.Encodes) > 0 {
				try(c)
			}
		}
	}
	for i := range d.Encodes {
		if len(d.Encodes) > 1 {
			c := d.clone()
			c.Encodes = slices.Delete(c.Encodes, i, i+1)
			try(c)
		}
	}
	for i := range d.Cards {
		c := d.clone()
		name := c.Cards[i].Name
		c.Cards = slices.Delete(c.Cards, i, i+1)
		c.Faults = slices.DeleteFunc(c.Faults, func(f string) bool { return strings.Contains(f, "card: "+name+",") })
		c.Steps = slices.DeleteFunc(c.Steps, func(s Step) bool {
			return (s.Op == "place" || s.Op == "remove") && s.Value == name
		})
		try(c)
	}
	for i := range d.Faults {
		c := d.clone()
		c.Faults = slices.Delete(c.Faults, i, i+1)
		try(c)
	}
	for i := range d.Steps {
		c := d.clone()
		c.Steps = slices.Delete(c.Steps, i, i+1)
		try(c)
	}
	for i, st := range d.Steps {
		// A down spell goes whole (a stop without its start does not
		// load), or becomes a kill that restarts the server at once.
		if st.Op != "server" || st.Value != "stop" {
			continue
		}
		end := slices.IndexFunc(d.Steps[i:], func(s Step) bool { return s.Op == "server" && s.Value == "start" })
		if end < 0 {
			continue
		}
		c := d.clone()
		c.Steps = slices.Delete(c.Steps, i+end, i+end+1)
		c.Steps = slices.Delete(c.Steps, i, i+1)
		try(c)
		c = d.clone()
		c.Steps = slices.Delete(c.Steps, i+end, i+end+1)
		c.Steps[i].Value = "kill"
		try(c)
	}
	for i, st := range d.Steps {
		if st.Op == "wait" && st.Value != waits[0] {
			c := d.clone()
			c.Steps[i].Value = waits[slices.Index(waits, st.Value)-1]
			try(c)
		}
	}
	for i, e := range d.Encodes {
		if e.Concurrent {
			c := d.clone()
			c.Encodes[i].Concurrent = false
			try(c)
		}
	}
	if d.User != "" {
		c := d.clone()
		c.User = ""
		try(c)
	}
	if d.Validity != DefaultValidity {
		c := d.clone()
		c.Validity = DefaultValidity
		try(c)
	}
	return out
}

// Valid loads d as a scenario and checks it against lab.
func Valid(d *Desk, lab *fixtures.Lab) error {
	sc, err := scenario.Load(d.Name+".yaml", d.YAML(""))
	if err != nil {
		return err
	}
	return scenario.CheckLab(sc, lab)
}
