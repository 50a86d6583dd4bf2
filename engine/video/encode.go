package video

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// Format is a video file format.
type Format string

// The formats [Create] writes.
const (
	GIF Format = "gif" // animated GIF with the standard library (image/gif), always available
	MP4 Format = "mp4" // H.264 in MP4 through ffmpeg, when ffmpeg is on PATH
)

// FFmpeg is the ffmpeg executable MP4 goes through; tests and packagers
// may change it.
var FFmpeg = "ffmpeg"

// Target decides the file a video for out is written to and its format:
// out ending in .gif is a GIF; out ending in .mp4 is an MP4 when ffmpeg is
// on PATH, else a GIF beside it (out with .gif), with a note saying so and
// how to get MP4. Other names are refused.
func Target(out string) (path string, f Format, note string, err error) {
	switch ext := strings.ToLower(filepath.Ext(out)); ext {
	case ".gif":
		return out, GIF, "", nil
	case ".mp4":
		if _, err := exec.LookPath(FFmpeg); err != nil {
			gif := strings.TrimSuffix(out, filepath.Ext(out)) + ".gif"
			return gif, GIF, fmt.Sprintf("no %s on PATH: writing %s (GIF) instead of %s; install ffmpeg (sudo apt-get install ffmpeg) for MP4", FFmpeg, gif, out), nil
		}
		return out, MP4, "", nil
	default:
		return "", "", "", fmt.Errorf("video: output %q: the name must end in .mp4 (through ffmpeg) or .gif", out)
	}
}

// Encoder takes a video's frames in order; every frame has the first
// one's size. Close finishes the file; Abort gives it up and removes what
// was written.
type Encoder interface {
	Frame(img *image.RGBA) error
	Close() error
	Abort()
}

// Create starts a video at path in format f at fps frames a second. The
// file appears complete at Close (it is written beside path and renamed),
// never half-written.
func Create(path string, f Format, fps float64) (Encoder, error) {
	if !(fps > 0) || math.IsInf(fps, 0) {
		return nil, fmt.Errorf("video: %g frames per second: must be finite and > 0", fps)
	}
	tmp, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	base := fileOut{path: path, tmp: tmp}
	switch f {
	case GIF:
		delay := max(2, int(math.Round(100/fps))) // browsers play delays under 2 cs slowly
		return &gifFile{fileOut: base, g: newGIFWriter(tmp, delay)}, nil
	case MP4:
		return &ffmpegFile{fileOut: base, fps: fps}, nil
	}
	base.Abort()
	return nil, fmt.Errorf("video: unknown format %q: valid formats are gif, mp4", f)
}

// fileOut is a file written under a temporary name and put in place at
// Close (atomicfile).
type fileOut struct {
	path string
	tmp  *atomicfile.File
}

func (o fileOut) finish() error {
	if err := o.tmp.Commit(); err != nil {
		return fmt.Errorf("video: %w", err)
	}
	return nil
}

// Abort removes the temporary file.
func (o fileOut) Abort() { o.tmp.Abort() }

type gifFile struct {
	fileOut
	g *gifWriter
}

func (f *gifFile) Frame(img *image.RGBA) error {
	if err := f.g.Frame(img); err != nil {
		return fmt.Errorf("video: write %s: %w", f.path, err)
	}
	return nil
}

func (f *gifFile) Close() error {
	if err := f.g.Close(); err != nil {
		f.Abort()
		return fmt.Errorf("video: write %s: %w", f.path, err)
	}
	return f.finish()
}

// ffmpegFile pipes raw RGBA frames to ffmpeg, which encodes H.264 (yuv420p,
// the pixel format every player reads; odd sizes are padded to even) into
// the temporary file.
type ffmpegFile struct {
	fileOut
	fps    float64
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	size   image.Point
}

func (f *ffmpegFile) start(size image.Point) error {
	f.size = size
	f.cmd = exec.Command(FFmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", size.X, size.Y),
		"-r", fmt.Sprintf("%g", f.fps), "-i", "-",
		"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
		"-movflags", "+faststart", "-f", "mp4", f.tmp.Name())
	f.cmd.Stderr = &f.stderr
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		return err
	}
	return f.cmd.Start()
}

func (f *ffmpegFile) Frame(img *image.RGBA) error {
	b := img.Bounds()
	if f.cmd == nil {
		if err := f.start(b.Size()); err != nil {
			return fmt.Errorf("video: start %s: %w", FFmpeg, err)
		}
	} else if b.Size() != f.size {
		return fmt.Errorf("video: write %s: frame is %v, the first was %v", f.path, b.Size(), f.size)
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := img.PixOffset(b.Min.X, y)
		if _, err := f.stdin.Write(img.Pix[i : i+4*b.Dx()]); err != nil {
			f.stdin.Close()
			if werr := f.cmd.Wait(); werr != nil { // ffmpeg's exit says more than the broken pipe
				err = werr
			}
			f.cmd = nil
			return f.failed(err)
		}
	}
	return nil
}

// failed reports err of the finished ffmpeg with what it wrote on stderr.
func (f *ffmpegFile) failed(err error) error {
	msg := strings.TrimSpace(f.stderr.String())
	if msg == "" {
		return fmt.Errorf("video: %s writing %s: %w", FFmpeg, f.path, err)
	}
	return fmt.Errorf("video: %s writing %s: %w: %s", FFmpeg, f.path, err, msg)
}

func (f *ffmpegFile) Close() error {
	if f.cmd == nil {
		f.fileOut.Abort()
		return fmt.Errorf("video: write %s: no frames", f.path)
	}
	f.stdin.Close()
	err := f.cmd.Wait()
	f.cmd = nil
	if err != nil {
		f.fileOut.Abort()
		return f.failed(err)
	}
	return f.finish()
}

func (f *ffmpegFile) Abort() {
	if f.cmd != nil && f.cmd.Process != nil {
		f.stdin.Close()
		f.cmd.Process.Kill()
		f.cmd.Wait()
		f.cmd = nil
	}
	f.fileOut.Abort()
}
