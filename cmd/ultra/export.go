package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// exportFormats are what 'ultra export --format' writes.
var exportFormats = []string{"onnx", "safetensors"}

func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	ckPath := fs.String("checkpoint", "", "the checkpoint to export (a run's checkpoint.bin, or the run directory); required")
	format := fs.String("format", "onnx", "onnx (the policy as an ONNX graph, opset 13: raw observation in, eval's action out) or safetensors (the networks and the normaliser)")
	out := fs.String("out", "", "the file to write; required")
	force := fs.Bool("force", false, "replace --out if it exists")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *ckPath == "":
		return fmt.Errorf("export: --checkpoint is required (a run's checkpoint.bin, or its directory)")
	case *out == "":
		return fmt.Errorf("export: --out is required, e.g. --out policy.onnx")
	case !slices.Contains(exportFormats, *format):
		return fmt.Errorf("export: unknown --format %q: valid formats are %s", *format, strings.Join(exportFormats, ", "))
	}
	if err := atomicfile.CheckOutput(*out, *force, *ckPath); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	ck, err := ppo.LoadPolicy(*ckPath)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	spec, err := registry().Lookup(ck.Config.Env)
	if err != nil {
		return fmt.Errorf("export: the checkpoint's env: %w", err)
	}
	var b bytes.Buffer
	if *format == "onnx" {
		err = ck.ExportONNX(&b, spec.Action)
	} else {
		err = ck.ExportSafetensors(&b, spec.Action)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := atomicfile.Write(*out, b.Bytes()); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %d bytes): the policy of %s at step %d\n", *out, *format, b.Len(), ck.Config.Env, ck.GlobalStep)
	return nil
}
