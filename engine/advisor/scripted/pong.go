package scripted

import (
	"fmt"
	"math"
	"sort"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// pongExpert is the scripted expert of Pong from features ("pong",
// "ale:pong"), from the spec's description of the game. It reads each
// state with [env.PongGame.Read] and predicts where the ball meets the
// agent's paddle line ([env.PongGame.Intercept]).
//
// A step is a candidate critical state when the ball is heading to the
// agent and the predicted intercept lies outside the agent's paddle (more
// than half a paddle height from its centre) before the step, or after it
// (the action moved the paddle off the intercept). The suggested action is
// RIGHT (paddle up) or LEFT (paddle down) toward the intercept, NOOP when
// the paddle already covers it. The reward of the action taken is the gap
// (the paddle travel still needed to cover the intercept) it closed, as a
// fraction of what it could close in one step, in [−1, 1]: +1 for a full
// step toward the intercept, −x when it widened the gap by x steps of
// travel, −0.5 when the paddle stood still while it had to move.
//
// Every lost point adds its last chance as a candidate with reward −1: the
// last step before the point at which the paddle could still reach the
// intercept at full speed (the action taken there let the point go), or,
// when it never could, the last step before the ball passed the paddle
// line. Candidates are ranked — last chances first, then by urgency (the
// travel needed over the time left, highest just before the intercept gets
// out of reach) and by how much the action widened the gap — and at most
// MaxCritical per episode are kept. Threshold, NearEnd, RewardScale and
// Gain do not apply to Pong.
type pongExpert struct {
	game      *env.PongGame
	frameSkip int // frames per step
	max       int
}

// pongCand is one candidate critical step.
type pongCand struct {
	k         int
	score     float64
	reward    float64
	suggested float64 // the reward of the suggested action, by the same rule
	action    int
	reason    string
}

// annotate returns the expert's annotations of t: of its own critical
// steps when given is nil, else of the given steps (a step where the ball
// is not heading to the paddle gets the action taken as the suggestion and
// rewards of 0: there is nothing to correct).
func (p *pongExpert) annotate(t *traj.Trajectory, given []int) []advisor.Annotation {
	n := t.Len()
	if n == 0 {
		return nil
	}
	c := p.game
	travel := c.StepTravel(p.frameSkip) // paddle rows per step of RIGHT/LEFT
	half := float64(c.PaddleH) / 2      // the paddle covers rows within this of its centre
	minRow, maxRow := c.PaddleRows()
	noop, up, down := c.FirstAction(0), c.FirstAction(-1), c.FirstAction(1)
	st := make([]env.PongState, n)
	for k := range n {
		st[k] = c.Read(t.ObsAt(k))
	}
	// gap is the paddle travel (rows) still needed to cover row with the
	// paddle's centre at y.
	gap := func(row, y float64) float64 { return math.Max(0, math.Abs(row-y)-half) }

	// The last chance before each lost point.
	lastChance := map[int]bool{}
	for j, r := range t.Rewards {
		if r >= 0 {
			continue
		}
		last, savable := -1, -1
		for k := j; k >= 0; k-- {
			s := st[k]
			frames, row, _, ok := c.Intercept(s)
			if !ok {
				if !s.BallInPlay || s.BallVX <= 0 || last >= 0 {
					break // before this rally, or a previous flight
				}
				continue // the ball is past the paddle line
			}
			if last < 0 {
				last = k
			}
			if gap(row, s.AgentY) <= travel*frames/float64(p.frameSkip) {
				savable = k
				break
			}
		}
		switch {
		case savable >= 0:
			lastChance[savable] = true
		case last >= 0:
			lastChance[last] = true
		}
	}

	var cands []pongCand
	for k := range n {
		s := st[k]
		frames, row, _, ok := c.Intercept(s)
		if !ok {
			continue
		}
		y1 := s.AgentY // the paddle after the step
		if k+1 < n {
			y1 = st[k+1].AgentY
		} else if a := int(t.ActionAt(k)[0]); a >= 0 && a < len(c.Actions) {
			switch c.Actions[a].Move {
			case -1:
				y1 = math.Max(minRow, y1-travel)
			case 1:
				y1 = math.Min(maxRow, y1+travel)
			}
		}
		g0, g1 := gap(row, s.AgentY), gap(row, y1)
		lost := lastChance[k]
		if g0 == 0 && g1 == 0 && !lost {
			continue
		}
		act, move := noop, "stay ("+c.Actions[noop].Name+")"
		if g0 > 0 {
			act, move = down, "move down ("+c.Actions[down].Name+")"
			if row < s.AgentY {
				act, move = up, "move up ("+c.Actions[up].Name+")"
			}
		}
		// closed scores a move from gap g0 to g1: the fraction of a full
		// step's travel it closed, minus what it widened, −0.5 for standing
		// short of the intercept, +1 for keeping it covered.
		closed := func(g1 float64) (float64, string) {
			var r float64
			var effect string
			switch {
			case g1 < g0:
				r, effect = (g0-g1)/math.Min(g0, travel), "closed the gap"
			case g1 > g0:
				r, effect = -(g1-g0)/travel, "widened the gap"
			case g0 == 0:
				r, effect = 1, "kept it covered"
			default:
				r, effect = -0.5, "left the paddle short of it"
			}
			return math.Max(-1, math.Min(1, r)), effect
		}
		r, effect := closed(g1)
		ys := s.AgentY // the paddle after the suggested action
		switch act {
		case up:
			ys = math.Max(minRow, ys-travel)
		case down:
			ys = math.Min(maxRow, ys+travel)
		}
		sr, _ := closed(gap(row, ys))
		steps := frames / float64(p.frameSkip)
		need := g0 / travel
		urgency := need / math.Max(steps, 0.25)
		if urgency > 1 {
			urgency = math.Max(0, 2-urgency) // hopeless states matter less
		}
		score := urgency + math.Max(0, -r)/2
		taken := actionName(c, t.ActionAt(k)[0])
		reason := fmt.Sprintf("ball heading to your paddle meets its line in %.1f steps at y %.2f; the paddle at y %.2f needs %.1f steps of travel to cover it: %s; the action taken (%s) %s",
			steps, c.FeatureY(row), c.FeatureY(s.AgentY), need, move, taken, effect)
		if lost {
			r, score = -1, score+2
			reason = "last chance before a lost point: " + reason
		}
		cands = append(cands, pongCand{k: k, score: score, reward: r, suggested: sr, action: act, reason: reason})
	}
	if given != nil {
		byStep := make(map[int]pongCand, len(cands))
		for _, cd := range cands {
			byStep[cd.k] = cd
		}
		cands = cands[:0]
		for _, k := range given {
			if k < 0 || k >= n {
				continue
			}
			cd, ok := byStep[k]
			if !ok {
				taken := t.ActionAt(k)[0]
				cd = pongCand{k: k, action: int(taken), reason: "the ball is not heading to your paddle, or it already covers the intercept: nothing to correct"}
			}
			cands = append(cands, cd)
		}
	} else {
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
		if len(cands) > p.max {
			cands = cands[:p.max]
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].k < cands[j].k })
	}
	out := make([]advisor.Annotation, 0, len(cands))
	for _, cd := range cands {
		sr := cd.suggested
		a := advisor.Annotation{Episode: t.ID, Step: cd.k, Reason: cd.reason, Action: []float32{float32(cd.action)}, Reward: cd.reward,
			Obs: append([]float32(nil), t.ObsAt(cd.k)...), Source: "scripted", Taken: append([]float32(nil), t.ActionAt(cd.k)...),
			SuggestedReward: &sr}
		if t.Snapshots != nil {
			a.Snapshot = t.Snapshots[cd.k]
		}
		out = append(out, a)
	}
	return out
}

// actionName names a Pong action index ("RIGHT"), or prints the value.
func actionName(g *env.PongGame, v float32) string {
	if i := int(v); float32(i) == v && i >= 0 && i < len(g.Actions) {
		return g.Actions[i].Name
	}
	return fmt.Sprint(v)
}
