// Command fuzzcorpus adds files to a Go fuzz target's seed corpus: each FILE
// becomes testdata/fuzz/<Target>/<name> in the encoding `go test` reads
// ("go test fuzz v1" and a []byte literal), so the corpus holds real files.
//
//	go run ./scripts/fuzzcorpus DIR NAME=FILE...
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: fuzzcorpus DIR NAME=FILE...")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzcorpus:", err)
		os.Exit(1)
	}
	for _, arg := range os.Args[2:] {
		name, file, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "fuzzcorpus: %q: want NAME=FILE\n", arg)
			os.Exit(2)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fuzzcorpus:", err)
			os.Exit(1)
		}
		entry := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(entry), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fuzzcorpus:", err)
			os.Exit(1)
		}
	}
}
