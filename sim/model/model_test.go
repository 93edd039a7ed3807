package model_test

import (
	"context"
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/sim/model"
)

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestRegister(t *testing.T) {
	newNothing := func(model.Settings) (model.Device, model.Serve) {
		return nil, func(context.Context, model.Line) error { return nil }
	}
	model.Register(model.Model{Name: "test-reader", New: newNothing, Stacks: true, Takes: []string{model.TakesWriteTime}})
	m, ok := model.Lookup("test-reader")
	if !ok || m.Name != "test-reader" || !m.Stacks || !slices.Equal(m.Takes, []string{model.TakesWriteTime}) {
		t.Fatalf("Lookup = %+v, %t; want the model registered", m, ok)
	}
	if _, ok := model.Lookup("no-such-reader"); ok {
		t.Error("Lookup found a model nobody registered")
	}
	if names := model.Names(); !slices.Contains(names, "test-reader") || !slices.IsSorted(names) {
		t.Errorf("Names = %v, want it sorted with test-reader", names)
	}
	for what, m := range map[string]model.Model{
		"a name used twice": {Name: "test-reader", New: newNothing},
		"no name":           {New: newNothing},
		"no constructor":    {Name: "test-other"},
	} {
		if !panics(func() { model.Register(m) }) {
			t.Errorf("Register of %s did not panic", what)
		}
	}
}
