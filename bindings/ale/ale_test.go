package ale

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/pong"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		id, game, obs, err string
	}{
		{id: "ale:pong", game: "pong", obs: ObsFeatures},
		{id: " ALE:Pong-Pixels ", game: "pong", obs: ObsPixels},
		{id: "ale:space_invaders-ram", game: "space_invaders", obs: ObsRAM},
		{id: "ale:tetris-pixels", game: "tetris", obs: ObsPixels},
		{id: "ale:tetris", err: "use ale:tetris-pixels or ale:tetris-ram"},
		{id: "ale:-pixels", err: "want a ROM name"},
		{id: "ale:../etc/passwd-ram", err: "want a ROM name"},
		{id: "pong", err: `does not start with "ale:"`},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			game, obs, err := ParseID(tt.id)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || game != tt.game || obs != tt.obs {
				t.Fatalf("got %q %q %v, want %q %q", game, obs, err, tt.game, tt.obs)
			}
			if back := ID(game, obs); !strings.EqualFold(back, strings.TrimSpace(tt.id)) {
				t.Errorf("ID(%q, %q) = %q, want %q", game, obs, back, tt.id)
			}
		})
	}
}

func TestFindROM(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(b, "pong.bin"), []byte{1}, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(a, "breakout.bin"), 0o755); err != nil { // a directory is not a ROM
		t.Fatal(err)
	}
	t.Setenv(ROMEnv, a+string(os.PathListSeparator)+b)
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	if p, err := FindROM("pong"); err != nil || p != filepath.Join(b, "pong.bin") {
		t.Fatalf("FindROM(pong) = %q, %v; want the file in the second directory", p, err)
	}
	_, err := FindROM("breakout")
	if !errors.Is(err, ErrNoROM) || !strings.Contains(err.Error(), ROMEnv) || !strings.Contains(err.Error(), a) {
		t.Fatalf("FindROM(breakout) error %v: want ErrNoROM naming the directories and %s", err, ROMEnv)
	}
	if err := os.WriteFile(filepath.Join(a, "Bad Name.bin"), []byte{1}, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "pong.bin"), []byte{1}, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := FoundROMs(); strings.Join(got, ",") != "pong" {
		t.Errorf("FoundROMs() = %v, want [pong] once (directories and bad names skipped)", got)
	}
	if dirs := ROMDirs(); dirs[0] != a || dirs[1] != b {
		t.Errorf("ROMDirs() = %v: want $%s first, in order", dirs, ROMEnv)
	}
}

// TestPongTracker decodes hand-made RAM images: positions follow the
// documented offsets, the velocity is the displacement per frame, 0 on the
// step the ball appears and while no ball is in play.
func TestPongTracker(t *testing.T) {
	ram := make([]byte, RAMSize)
	set := func(ballX, ballY, agent, opp, as, os byte) {
		ram[RAMPongBallX], ram[RAMPongBallY], ram[RAMPongAgentY], ram[RAMPongOpponentY] = ballX, ballY, agent, opp
		ram[RAMPongAgentScore], ram[RAMPongOpponentScore] = as, os
	}
	var tr PongTracker
	set(0, 0, 120, 110, 3, 7) // no ball
	s := tr.Update(ram, 0)
	if s.BallInPlay || s.AgentY != 120-13+7.5 || s.OpponentY != 110-15+7.5 || s.AgentScore != 3 || s.OpponentScore != 7 {
		t.Fatalf("no-ball state %+v", s)
	}
	set(129, 114, 120, 110, 3, 7) // the ball appears at column 80, row 100 (top-left)
	s = tr.Update(ram, 4)
	if !s.BallInPlay || s.BallX != 81 || s.BallY != 102 || s.BallVX != 0 || s.BallVY != 0 {
		t.Fatalf("first ball state %+v: want centre (81, 102), velocity 0", s)
	}
	set(137, 110, 120, 110, 3, 7) // 8 right, 4 up over 4 frames
	s = tr.Update(ram, 4)
	if s.BallVX != 2 || s.BallVY != -1 {
		t.Fatalf("velocity (%v, %v), want (2, -1)", s.BallVX, s.BallVY)
	}
	if tr.Last() != s {
		t.Fatalf("Last() %+v != the returned state %+v", tr.Last(), s)
	}
	obs := make([]float32, pong.NumFeatures)
	s.Features(obs, pong.DefaultConfig())
	if obs[pong.FeatBallVX] <= 0 || obs[pong.FeatBallVY] >= 0 || obs[pong.FeatBallX] != float32(pong.FeatureX(89)) {
		t.Fatalf("features %v: ball heading right and up at column 89", obs)
	}
	tr.Reset()
	if s = tr.Update(ram, 4); s.BallVX != 0 {
		t.Fatalf("after Reset the velocity is %v, want 0", s.BallVX)
	}
}
