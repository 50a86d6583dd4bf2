// Command ultra is the ULTRA training engine's command line. It parses
// flags, calls the engine packages and prints; `ultra` alone lists the
// commands:
//
//	ultra envs                  the tasks, their spaces and limits
//	ultra train                 train a PPO agent
//	ultra eval                  evaluate a baseline policy or a checkpoint
//	ultra video                 record a policy's episodes as a video (MP4 or GIF)
//	ultra export                a checkpoint's policy as ONNX or safetensors
//	ultra collect               record a policy's episodes as trajectories
//	ultra annotate              have an advisor mark critical states
//	ultra refine                fine-tune a checkpoint under one ULTRA variant
//	ultra experiment            the whole pipeline, every variant × seed, with its report
//	ultra sweep plan|unit|report|k8s|slurm   the experiment as cluster work units
//	ultra report                one report across experiment directories
//	ultra match                 measure the match spaces on a checkpoint's annotations
//	ultra judge                 judge annotations in the simulator: is the advice better than what the agent did?
//	ultra bench env|env-scaling|update   env steps per second, their scaling over workers, the PPO update's speed
//	ultra version               the module version, commit and build tags
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ultra-rl/ultra/bindings/ale"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/internal/configflags"
	"github.com/ultra-rl/ultra/internal/memlimit"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

const usage = `ultra — LLM-guided reinforcement learning engine

Usage:
  ultra envs                 list the tasks with their observation and action spaces
  ultra train [flags]        train a PPO agent (checkpoints, metrics and the policy go to --out)
  ultra eval [flags]         evaluate a baseline policy or a checkpoint: per-episode return and length
  ultra video [flags]        record a checkpoint's (or a baseline's) episodes as a video: --out clip.mp4 or clip.gif
  ultra export [flags]       a checkpoint's policy as ONNX (opset 13) or safetensors
  ultra collect [flags]      record a policy's episodes as trajectories (JSONL)
  ultra annotate [flags]     have an advisor (llm, scripted, random) mark critical states in trajectories
  ultra refine [flags]       fine-tune a checkpoint with annotations (variants: ultra refine -h)
  ultra experiment [flags]   the whole pipeline: pretrain, collect, annotate, refine every variant × seed, evaluate, report
  ultra sweep ...            the same as numbered work units for a cluster (plan, unit, report, k8s, slurm)
  ultra report [flags] DIR... one report across experiment directories (one per task): normalised scores, IQM, profile
  ultra match [flags]        measure the match spaces on a checkpoint's annotations: hit rate and precision, before and after calibration
  ultra judge [flags]        judge annotations in the simulator: the suggested against the taken action from each snapshot
  ultra bench env [flags]    measure env steps per second against a plain C MuJoCo loop
  ultra bench env-scaling [flags]  env steps per second over workers × envs per worker
  ultra bench update [flags] the PPO update's speed (samples per second) on one backend and device
  ultra version              the module version, VCS commit and build tags (also ultra --version)

Run 'ultra <command> -h' for the flags of a command.
`

// registry holds every task the binary knows.
func registry() *env.Registry {
	return env.NewRegistry(append(tasks.Specs(), pong.Specs()...)...).WithResolver(ale.Prefix, ale.Resolve)
}

func main() {
	os.Exit(exitStatus(runCommand(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// exitStatus prints a command's error and returns the process's exit
// status: 0 for success and for -h (the usage was printed), 2 otherwise.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "ultra:", err)
	if errors.Is(err, memlimit.ErrExceeded) {
		fmt.Fprintln(stderr, "ultra: --memory-limit SIZE sets the limit for one command")
	}
	return 2
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	if isHelp(args[0]) || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if args[0] == "-version" || args[0] == "--version" {
		return cmdVersion(args[1:], stdout, stderr)
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
		names[i] = c.name
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: valid commands are %s", args[0], strings.Join(names, ", "))
}

// commands are the subcommands in the order the usage lists them.
var commands = []struct {
	name string
	run  func(args []string, stdout, stderr io.Writer) error
}{
	{"envs", cmdEnvs},
	{"train", cmdTrain},
	{"eval", cmdEval},
	{"video", cmdVideo},
	{"export", cmdExport},
	{"collect", cmdCollect},
	{"annotate", cmdAnnotate},
	{"refine", cmdRefine},
	{"experiment", cmdExperiment},
	{"sweep", cmdSweep},
	{"report", cmdReport},
	{"match", cmdMatch},
	{"judge", cmdJudge},
	{"bench", cmdBench},
	{"version", cmdVersion},
}

// isHelp reports whether arg asks for help, as the flag package reads it.
func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h" }

// newFlags makes a flag set that reports errors instead of exiting. Every
// command takes --memory-limit, which [parse] applies.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ultra "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("memory-limit", "", "most memory the command may plan to use, e.g. 8GiB, or off; default: $"+memlimit.EnvVar+", else what the machine (or its cgroup) has available. Sizes over it are refused up front")
	return fs
}

// parse parses args, rejects stray positional arguments and applies
// --memory-limit for this command.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags start with --)", fs.Name(), fs.Arg(0))
	}
	return applyMemoryLimit(fs)
}

// parseOperands is parse for a command that takes operands (such as
// directories) as well as flags, in any order; it returns the operands.
func parseOperands(fs *flag.FlagSet, args []string) ([]string, error) {
	var ops []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		ops, args = append(ops, fs.Arg(0)), fs.Args()[1:]
	}
	return ops, applyMemoryLimit(fs)
}

// parseFlags is fs.Parse with the usage printed only for -h: a bad flag is
// one error, naming the flag and, for a misspelt one or CleanRL's name of
// an ultra option, the flag that exists (not the whole usage before it).
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if fs.Usage != nil {
			fs.Usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		msg = "unknown flag --" + name
		if s := configflags.Suggest(name, flagNames(fs), "--"); s != "" {
			msg += ": " + s
		}
	}
	return fmt.Errorf("%s: %s (%s -h lists the flags)", strings.TrimPrefix(fs.Name(), "ultra "), msg, fs.Name())
}

// flagNames lists fs's flags.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// applyMemoryLimit applies the parsed --memory-limit for this command.
func applyMemoryLimit(fs *flag.FlagSet) error {
	memlimit.Reset()
	if v := fs.Lookup("memory-limit").Value.String(); v != "" {
		b, err := memlimit.Parse(v)
		if err != nil {
			return fmt.Errorf("%s: --memory-limit: %w", fs.Name(), err)
		}
		memlimit.Set(memlimit.Limit{Bytes: b, Source: "--memory-limit"})
	}
	_, err := memlimit.Current() // a bad ULTRA_MEMORY_LIMIT is an error before any work
	return err
}
