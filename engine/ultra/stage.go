package ultra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/traj"
)

// StageConfig sizes the asynchronous annotation stage.
type StageConfig struct {
	BatchEpisodes int    // episodes per advisor call (default 4)
	QueueBatches  int    // batches waiting at most (default 8)
	Workers       int    // concurrent advisor calls (default 2)
	DropNewest    bool   // when the queue is full skip the new batch instead of dropping the oldest
	RunID         string // prefix of trajectory ids
	Env           string // task id of the episodes
}

// StageStats counts what the stage did.
type StageStats struct {
	Episodes      int64          // episodes submitted
	Batches       int64          // batches queued
	Dropped       int64          // batches dropped unannotated because the queue was full
	Annotated     int64          // batches the advisor finished
	Added         int64          // table entries added
	QueueDepth    int            // batches waiting now
	Report        advisor.Report // advisor totals
	BudgetReached bool
}

// Stage collects the trainer's finished episodes into batches, annotates
// them with an advisor on worker goroutines, and adds the results to a
// table. Submit never blocks: the trainer never waits on the advisor.
type Stage struct {
	adv   advisor.Advisor
	table *Table
	cfg   StageConfig
	log   *slog.Logger

	queue   chan []traj.Trajectory
	pending []traj.Trajectory
	nextID  int64

	mu    sync.Mutex
	stats StageStats

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewStage starts cfg.Workers annotation workers.
func NewStage(adv advisor.Advisor, table *Table, cfg StageConfig, log *slog.Logger) (*Stage, error) {
	if cfg.BatchEpisodes == 0 {
		cfg.BatchEpisodes = 4
	}
	if cfg.QueueBatches == 0 {
		cfg.QueueBatches = 8
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.BatchEpisodes < 1 || cfg.QueueBatches < 1 || cfg.Workers < 1 {
		return nil, fmt.Errorf("ultra: stage sizes must be ≥ 1, got batch %d, queue %d, workers %d", cfg.BatchEpisodes, cfg.QueueBatches, cfg.Workers)
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stage{adv: adv, table: table, cfg: cfg, log: log, queue: make(chan []traj.Trajectory, cfg.QueueBatches), cancel: cancel}
	for i := 0; i < cfg.Workers; i++ {
		s.wg.Add(1)
		go s.work(ctx)
	}
	return s, nil
}

// Submit hands a finished episode to the stage (use it as ppo.Hooks.OnEpisode;
// with ppo.Hooks.Snapshots set, its simulator states reach the annotations,
// so RICE can restart there). It is called from the training goroutine only,
// and names the episode with the stage's run id.
func (s *Stage) Submit(ep *traj.Trajectory) {
	s.mu.Lock()
	s.stats.Episodes++
	budget := s.stats.BudgetReached
	s.mu.Unlock()
	if budget {
		return // annotation has stopped for good; training goes on
	}
	ep.ID, ep.Env = fmt.Sprintf("%sep%06d", s.cfg.RunID, s.nextID), s.cfg.Env
	s.pending = append(s.pending, *ep)
	s.nextID++
	if len(s.pending) < s.cfg.BatchEpisodes {
		return
	}
	batch := s.pending
	s.pending = nil
	s.enqueue(batch)
}

// enqueue adds a batch, making room per the drop policy when full.
func (s *Stage) enqueue(batch []traj.Trajectory) {
	for {
		select {
		case s.queue <- batch:
			s.mu.Lock()
			s.stats.Batches++
			s.mu.Unlock()
			return
		default:
		}
		if s.cfg.DropNewest {
			s.countDrop()
			return
		}
		select {
		case <-s.queue: // drop the oldest unannotated batch
			s.countDrop()
		default:
		}
	}
}

func (s *Stage) countDrop() {
	s.mu.Lock()
	s.stats.Dropped++
	s.mu.Unlock()
}

func (s *Stage) work(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-s.queue:
			anns, rep, err := s.adv.Annotate(ctx, batch)
			advisor.Stamp(anns, s.cfg.Env, traj.Fingerprint(batch))
			added := s.table.Add(anns...)
			s.mu.Lock()
			s.stats.Annotated++
			s.stats.Added += int64(added)
			s.stats.Report.Add(rep)
			if errors.Is(err, advisor.ErrBudget) {
				s.stats.BudgetReached = true
			}
			s.mu.Unlock()
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("annotation batch failed; training goes on", "advisor", s.adv.Name(), "err", err,
					"episodes", len(batch), "kept", len(anns))
			}
		}
	}
}

// Stats returns a snapshot of the counters.
func (s *Stage) Stats() StageStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.QueueDepth = len(s.queue)
	return st
}

// Close stops the workers; in-flight advisor calls are cancelled and queued
// batches are left unannotated.
func (s *Stage) Close() {
	s.cancel()
	s.wg.Wait()
}
