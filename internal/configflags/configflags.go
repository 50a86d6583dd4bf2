// Package configflags binds a config struct to a flag set and a YAML file:
// every field with a yaml tag becomes a flag of the same name, documented by
// the field's help tag (the one place an option is documented), and Apply
// loads the YAML file, then the flags given explicitly on top. `ultra
// train` binds ppo.Config with it.
package configflags

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Set exposes every field of a config struct that has a yaml tag as
// a flag of the same name, documented by the field's help tag, so each option can be set from a YAML file
// (--config) and overridden on the command line. Precedence: defaults <
// config file < explicitly given flags.
//
// A field tagged resume:"ok" is an option a resumed run may change (where
// the maths runs, how long to train, how to log); Fixed names the others
// that were given, which a resume must refuse.
type Set struct {
	target    any // pointer to the config struct
	fs        *flag.FlagSet
	raw       map[string]*string
	resumable map[string]bool
}

// New binds target (a pointer to a config struct) to fs: every tagged
// field, or only those whose keys only lists.
func New(fs *flag.FlagSet, target any, only ...string) *Set {
	cf := &Set{target: target, fs: fs, raw: map[string]*string{}, resumable: map[string]bool{}}
	v := reflect.ValueOf(target).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		key := yamlKey(f)
		if key == "" || (len(only) > 0 && !slices.Contains(only, key)) {
			continue
		}
		def := formatValue(v.Field(i))
		s := new(string)
		cf.raw[key] = s
		cf.resumable[key] = f.Tag.Get("resume") == "ok"
		doc := f.Tag.Get("help")
		usage := fmt.Sprintf("%s (default %s)", doc, def)
		if def == "" {
			usage = doc
		}
		if f.Type.Kind() == reflect.Bool {
			fs.Var(&boolValue{s: s}, key, usage) // a bare --key means true
			continue
		}
		fs.Func(key, usage, func(x string) error { *s = x; return nil })
	}
	return cf
}

// Fixed returns, as "--name", the flags given on fs that no set marks
// resume:"ok" and that allow does not name: what a resumed run cannot
// change.
func Fixed(fs *flag.FlagSet, allow []string, sets ...*Set) []string {
	var out []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(allow, f.Name) {
			return
		}
		for _, s := range sets {
			if s.resumable[f.Name] {
				return
			}
		}
		out = append(out, "--"+f.Name)
	})
	return out
}

// boolValue records a boolean option's text; IsBoolFlag lets it stand alone.
type boolValue struct{ s *string }

func (b *boolValue) String() string     { return "" }
func (b *boolValue) Set(x string) error { *b.s = x; return nil }
func (b *boolValue) IsBoolFlag() bool   { return true }

func formatValue(v reflect.Value) string {
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// Apply loads the config file (if any) then the flags given explicitly.
// A file's values go through the same parsing as flags, so `num-steps:
// 2048.5` is refused as it is on the command line (a YAML decoder would
// truncate it to 2048).
func (cf *Set) Apply(configPath string) error {
	if configPath != "" {
		if err := DecodeFile(configPath, cf.target); err != nil {
			return fmt.Errorf("--config %w", err)
		}
	}
	var err error
	cf.fs.Visit(func(f *flag.Flag) {
		s, ok := cf.raw[f.Name]
		if !ok || err != nil {
			return
		}
		if serr := set(cf.target, f.Name, *s); serr != nil {
			err = fmt.Errorf("--%w", serr)
		}
	})
	return err
}

// DecodeFile sets the fields of target (a pointer to a struct) that a
// YAML file of "key: value" lines names by their yaml tags. Values are
// parsed strictly, as flags are: a fraction for an integer, an unknown or
// repeated key, or a value of the wrong kind is an error naming the line.
func DecodeFile(path string, target any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := Decode(b, target); err != nil {
		return fmt.Errorf("%s %w", path, err)
	}
	return nil
}

// Decode is DecodeFile for a document in memory; errors start with the
// line ("line 3: ...").
func Decode(b []byte, target any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 { // empty file
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want \"key: value\" lines", root.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return fmt.Errorf("line %d: %s is given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		var x string
		switch v.Kind {
		case yaml.ScalarNode:
			x = v.Value
		case yaml.SequenceNode: // hidden: [64, 64]
			parts := make([]string, len(v.Content))
			for j, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return fmt.Errorf("line %d: %s: want a list of numbers", e.Line, k.Value)
				}
				parts[j] = e.Value
			}
			x = strings.Join(parts, ",")
		default:
			return fmt.Errorf("line %d: %s: want a single value or a list", v.Line, k.Value)
		}
		if err := set(target, k.Value, x); err != nil {
			return fmt.Errorf("line %d: %w", k.Line, err)
		}
	}
	return nil
}

// set parses x into the field of target tagged key.
func set(target any, key, x string) error {
	v := reflect.ValueOf(target).Elem()
	for i := 0; i < v.NumField(); i++ {
		if yamlKey(v.Type().Field(i)) != key {
			continue
		}
		fv := v.Field(i)
		bad := func(want string) error { return fmt.Errorf("%s %q: want %s", key, x, want) }
		switch fv.Kind() {
		case reflect.Int64:
			if fv.Type() == reflect.TypeOf(time.Duration(0)) {
				d, err := time.ParseDuration(x)
				if err != nil {
					return bad("a duration such as 90s or 5m")
				}
				fv.SetInt(int64(d))
				return nil
			}
			n, err := strconv.ParseInt(strings.ReplaceAll(x, "_", ""), 10, 64)
			if err != nil {
				return bad("an integer")
			}
			fv.SetInt(n)
		case reflect.Int:
			n, err := strconv.Atoi(strings.ReplaceAll(x, "_", ""))
			if err != nil {
				if f, ferr := strconv.ParseFloat(x, 64); ferr == nil && f == float64(int(f)) {
					n = int(f) // accept 1e6
				} else {
					return bad("an integer")
				}
			}
			fv.SetInt(int64(n))
		case reflect.Uint64:
			n, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return bad("a non-negative integer")
			}
			fv.SetUint(n)
		case reflect.Float64:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return bad("a number")
			}
			fv.SetFloat(f)
		case reflect.Bool:
			if x == "" {
				x = "true"
			}
			b, err := strconv.ParseBool(x)
			if err != nil {
				return bad("true or false")
			}
			fv.SetBool(b)
		case reflect.String:
			fv.SetString(x)
		case reflect.Slice:
			var out []int
			for _, p := range strings.Split(x, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(p))
				if err != nil {
					return bad("comma-separated integers, e.g. 64,64")
				}
				out = append(out, n)
			}
			fv.Set(reflect.ValueOf(out))
		default:
			return fmt.Errorf("%s: unsupported option type %s", key, fv.Kind())
		}
		return nil
	}
	if hint := Suggest(key, keys(target), ""); hint != "" {
		return fmt.Errorf("unknown option %q: %s", key, hint)
	}
	return fmt.Errorf("unknown option %q", key)
}

// keys lists the yaml keys of target's fields.
func keys(target any) []string {
	var out []string
	t := reflect.TypeOf(target).Elem()
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// yamlKey is f's yaml key, or "" for a field without one (untagged or "-").
func yamlKey(f reflect.StructField) string {
	k := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if k == "-" {
		return ""
	}
	return k
}
