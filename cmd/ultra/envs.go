package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ultra-rl/ultra/bindings/ale"
)

func cmdEnvs(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("envs", stderr)
	asJSON := fs.Bool("json", false, "print JSON, including each observation layout")
	verbose := fs.Bool("v", false, "also print each observation layout")
	if err := parse(fs, args); err != nil {
		return err
	}
	reg := registry()
	if *asJSON {
		type field struct {
			Index           int
			Name, Unit, Doc string
		}
		type row struct {
			ID                       string
			Aliases                  []string `json:",omitempty"`
			Doc, Observation, Action string
			MaxEpisodeSteps          int
			ResetNoise               float64
			Layout                   []field
		}
		var rows []row
		for _, id := range reg.IDs() {
			s, _ := reg.Lookup(id)
			r := row{ID: id, Aliases: s.Aliases, Doc: s.Doc, Observation: s.Observation.String(), Action: s.Action.String(),
				MaxEpisodeSteps: s.MaxEpisodeSteps, ResetNoise: s.DefaultNoise}
			for i, f := range s.ObsLayout {
				r.Layout = append(r.Layout, field{i, f.Name, f.Unit, f.Doc})
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tGYMNASIUM ID\tOBSERVATION\tACTION\tMAX STEPS\tRESET NOISE\tTASK")
	for _, id := range reg.IDs() {
		s, _ := reg.Lookup(id)
		alias := "-"
		if len(s.Aliases) > 0 {
			alias = strings.Join(s.Aliases, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%g\t%s\n", id, alias, s.Observation, s.Action, s.MaxEpisodeSteps, s.DefaultNoise, s.Doc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ale.Available {
		found := "none"
		if games := ale.FoundROMs(); len(games) > 0 {
			found = strings.Join(games, ", ")
		}
		fmt.Fprintf(stdout, "\nAtari through ALE %s: %sGAME-pixels and %sGAME-ram for any ROM, %spong from RAM features; ROMs (GAME.bin) are looked for in %s; found: %s\n",
			ale.Version(), ale.Prefix, ale.Prefix, ale.Prefix, strings.Join(ale.ROMDirs(), ", "), found)
	} else {
		fmt.Fprintf(stdout, "\nAtari through ALE (%sGAME-pixels, %sGAME-ram, %spong): not in this build; see docs/building.md, \"Atari through ALE\"\n", ale.Prefix, ale.Prefix, ale.Prefix)
	}
	if *verbose {
		for _, id := range reg.IDs() {
			s, _ := reg.Lookup(id)
			fmt.Fprintf(stdout, "\n%s observation:\n", id)
			for i, f := range s.ObsLayout {
				fmt.Fprintf(stdout, "  %2d  %-36s %-6s %s\n", i, f.Name, f.Unit, f.Doc)
			}
		}
	}
	return nil
}
