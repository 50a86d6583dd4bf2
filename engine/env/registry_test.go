package env

import (
	"strings"
	"testing"
)

// TestRegistryAliases: a task answers to its aliases whatever their case,
// under its own ID; an id it refuses is an error naming what differs and
// the id to use; an unknown id lists the valid ones (issue 30, Gymnasium
// names).
func TestRegistryAliases(t *testing.T) {
	reg := NewRegistry(
		Spec{ID: "hopper", Aliases: []string{"Hopper-v4"}, Refuses: map[string]string{"Hopper-v5": "v5 pays the healthy reward only while healthy"}},
		Spec{ID: "pong"},
	)
	for _, tc := range []struct {
		id, wantID, wantErr string
	}{
		{"hopper", "hopper", ""},
		{"Hopper-v4", "hopper", ""},
		{" hopper-V4 ", "hopper", ""},
		{"pong", "pong", ""},
		{"Hopper-v5", "", `env "Hopper-v5" differs from ultra's hopper: v5 pays the healthy reward only while healthy; use hopper (or Hopper-v4)`},
		{"Hopper-v3", "", `unknown env "Hopper-v3": valid envs are hopper, pong`},
	} {
		t.Run(tc.id, func(t *testing.T) {
			s, err := reg.Lookup(tc.id)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || s.ID != tc.wantID {
				t.Fatalf("got %q, %v; want %q", s.ID, err, tc.wantID)
			}
		})
	}
	if ids := strings.Join(reg.IDs(), " "); ids != "hopper pong" {
		t.Errorf("IDs %q lists aliases", ids)
	}
	for _, tc := range []struct {
		name  string
		specs []Spec
	}{
		{"an alias that is an id", []Spec{{ID: "hopper"}, {ID: "walker", Aliases: []string{"Hopper"}}}},
		{"an alias twice", []Spec{{ID: "a", Aliases: []string{"X"}}, {ID: "b", Aliases: []string{"x"}}}},
		{"a refused id that is an alias", []Spec{{ID: "a", Aliases: []string{"A-v4"}}, {ID: "b", Refuses: map[string]string{"a-v4": "no"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			NewRegistry(tc.specs...)
		})
	}
}
