package seam_test

import (
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// The lab names profiles as text (the simulator reads it and depends on
// nothing of the pipeline); the names must be the ones this package
// gives meaning to.
func TestLabProfilesAreSeamProfiles(t *testing.T) {
	var names []string
	for _, p := range seam.Profiles {
		names = append(names, string(p))
	}
	if !slices.Equal(names, fixtures.Profiles) {
		t.Errorf("fixtures.Profiles = %q, seam.Profiles = %q: the two lists must agree", fixtures.Profiles, names)
	}
	if string(seam.DefaultProfile) != fixtures.DefaultProfile {
		t.Errorf("default profile: seam %q, fixtures %q", seam.DefaultProfile, fixtures.DefaultProfile)
	}
}
