package memlimit

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "8GiB", want: 8 << 30},
		{in: "512 MiB", want: 512 << 20},
		{in: "1.5g", want: 3 << 29},
		{in: "2000000000", want: 2e9},
		{in: "4k", want: 4096},
		{in: "off", want: 0},
		{in: "0", want: 0},
		{in: "-1G", bad: true},
		{in: "lots", bad: true},
		{in: "NaN", bad: true},
		{in: "1e30T", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), "8GiB") {
					t.Fatalf("Parse(%q) = %d, %v; want an error showing the format", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	defer Reset()
	Set(Limit{Bytes: 1 << 30, Source: "test limit"})
	if err := Check(Estimate{Bytes: 1 << 29, What: "half"}); err != nil {
		t.Fatal(err)
	}
	err := Check(Estimate{Bytes: 3 << 30, What: "100000 hopper instances at 30.0 KiB each"})
	if !errors.Is(err, ErrExceeded) {
		t.Fatalf("got %v, want ErrExceeded", err)
	}
	for _, want := range []string{"100000 hopper instances", "3.0 GiB", "1.0 GiB", "test limit", EnvVar} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	Set(Limit{}) // off
	if err := Check(Estimate{Bytes: math.MaxInt64}); err != nil {
		t.Fatalf("checking is off: %v", err)
	}
	Reset()
	t.Setenv(EnvVar, "2MiB")
	if err := Check(Estimate{Bytes: 3 << 20}); !errors.Is(err, ErrExceeded) || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("%s=2MiB: %v", EnvVar, err)
	}
	t.Setenv(EnvVar, "bogus")
	if err := Check(Estimate{Bytes: 1}); err == nil || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("%s=bogus: %v", EnvVar, err)
	}
}

func TestSaturatingArithmetic(t *testing.T) {
	if SatMul(1<<40, 1<<40) != math.MaxInt64 || SatMul(3, 4) != 12 || SatMul(-1, 5) != 0 {
		t.Fatal("SatMul")
	}
	if SatAdd(math.MaxInt64-1, 5) != math.MaxInt64 || SatAdd(2, 3) != 5 {
		t.Fatal("SatAdd")
	}
	e := Estimate{Bytes: math.MaxInt64, What: "a"}.Add(Estimate{Bytes: 10, What: "b"})
	if e.Bytes != math.MaxInt64 || e.What != "a + b" {
		t.Fatalf("Add: %+v", e)
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[int64]string{512: "512 B", 1536: "1.5 KiB", 24 << 30: "24.0 GiB", math.MaxInt64: "8.0 EiB"} {
		if got := Format(in); got != want {
			t.Errorf("Format(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestMemAvailable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(p, []byte("MemTotal:       24576000 kB\nMemAvailable:   1024 kB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, ok := memAvailable(p); !ok || b != 1<<20 {
		t.Fatalf("memAvailable = %d, %v", b, ok)
	}
	if l := Available(); l.Bytes <= 0 || l.Source == "" {
		// Every Linux machine these tests run on has /proc/meminfo.
		t.Fatalf("Available() = %+v", l)
	}
}
