package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/ultra-rl/ultra/bindings/ale"
	"github.com/ultra-rl/ultra/bindings/blas"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// cmdVersion prints the module version, the VCS commit the binary was
// built from and the build tags that change what it can do.
func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(bi))
	return nil
}

// buildTags names the feature tags this binary was built with, read from
// what each tag switches on (not from the go command's record, which a
// test binary lacks): ultracuda (the CUDA backend), ale (Atari through
// ALE), noblas (pure-Go kernels instead of OpenBLAS).
func buildTags() []string {
	var tags []string
	if ppo.CUDABuild {
		tags = append(tags, "ultracuda")
	}
	if ale.Available {
		tags = append(tags, "ale")
	}
	if blas.Impl != "openblas" {
		tags = append(tags, "noblas")
	}
	return tags
}

// versionText formats the version report from the binary's build
// information (nil: none recorded).
func versionText(bi *debug.BuildInfo) string {
	version, commit, when, modified := "(devel)", "unknown (built without VCS information, e.g. by go run or go test)", "", false
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if when != "" {
		commit += " (" + when + ")"
	}
	if modified {
		commit += ", with uncommitted changes"
	}
	tags := "none"
	if t := buildTags(); len(t) > 0 {
		tags = strings.Join(t, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ultra %s\n", version)
	fmt.Fprintf(&b, "commit  %s\n", commit)
	fmt.Fprintf(&b, "tags    %s\n", tags)
	fmt.Fprintf(&b, "go      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
