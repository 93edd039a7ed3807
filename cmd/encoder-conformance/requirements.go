package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/encoderlab/encoderlab/conformance"
)

const requirementsUsage = `Usage: encoder-conformance requirements [--profile P]

Print every requirement of the profile, how many specs check it and where
(API: requests of the suite's own; otherwise the scenario's name), then
the totals. Exits 1 if a requirement has no spec.

Flags:
  --profile P   spec revision: current (default) or older

Example:
  encoder-conformance requirements --profile older
`

func requirementsCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("requirements", requirementsUsage, stdout, stderr)
	profile := fs.String("profile", "current", "")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg := conformance.NewConfig()
	cfg.Profile = *profile
	if cfg.Registry.Profile(cfg.Profile) == nil {
		return usageError(stderr, "requirements", "unknown profile %q (%s)", cfg.Profile, profileIDs(cfg.Registry))
	}
	plan, err := conformance.Plan(&cfg)
	if err != nil {
		fmt.Fprintf(stderr, "encoder-conformance requirements: %v\n", err)
		return exitFail
	}
	where := map[string][]string{}
	for _, g := range plan {
		name := "API"
		if g.Scenario != nil {
			name = g.Scenario.Name
		}
		for _, r := range g.Requirements {
			where[r.ID] = append(where[r.ID], name)
		}
	}
	reqs := cfg.Registry.For(cfg.Profile)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUIREMENT\tSPECS\tCHECKED IN")
	covered := 0
	for _, r := range reqs {
		places := "NONE"
		if len(where[r.ID]) > 0 {
			covered++
			places = strings.Join(where[r.ID], ", ")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", r.ID, len(where[r.ID]), places)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "encoder-conformance requirements: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "\nprofile %s: %d of %d requirements have a spec\n", cfg.Profile, covered, len(reqs))
	if covered < len(reqs) {
		return exitFail
	}
	return exitOK
}

func profileIDs(r *conformance.Registry) string {
	var ids []string
	for _, p := range r.Profiles {
		ids = append(ids, p.ID)
	}
	return "the registry has " + strings.Join(ids, ", ")
}
