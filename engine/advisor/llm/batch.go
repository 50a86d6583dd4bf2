package llm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Offline answers through the OpenAI Batch API format
// (https://platform.openai.com/docs/guides/batch). With no key or endpoint
// at hand, ExportBatch writes the exact requests Annotate would send as
// Batch API input lines; they can be run anywhere (on OpenAI's Batch API at
// half price, or through any OpenAI-compatible server), and ImportBatch
// reads the output lines back through the same parser, validation, cache
// and audit log as live answers. Batches are dealt as Annotate deals them,
// so the same trajectories and config give the same requests, identified
// by custom_id. Only the single-request mode can be batched: the
// three-request mode needs each answer before the next request.

// batchEndpoint is the Batch API's url for chat completions.
const batchEndpoint = "/v1/chat/completions"

// batchInput is one Batch API input line.
type batchInput struct {
	CustomID string                       `json:"custom_id"`
	Method   string                       `json:"method"`
	URL      string                       `json:"url"`
	Body     openai.ChatCompletionRequest `json:"body"`
}

// batchOutput is one Batch API output line.
type batchOutput struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// batchRequest is one prepared request of a batch.
type batchRequest struct {
	prompt *batchPrompt
	msgs   []openai.ChatCompletionMessage
	id     string // custom_id
	legacy string // the custom_id exports from before named (the base URL in it)
	key    string // cache key
}

// cfgWithoutURL is cfg without its endpoint, for keys of content alone.
func cfgWithoutURL(cfg Config) Config {
	cfg.BaseURL = ""
	return cfg
}

// batchRequests deals trajs and renders each batch's single request.
func (a *Advisor) batchRequests(trajs []traj.Trajectory) ([]batchRequest, error) {
	if a.cfg.Mode == ModeAgentic {
		return nil, errAgenticBatch
	}
	if a.cfg.Mode != ModeSingle {
		return nil, fmt.Errorf("llm: batch files hold one request per batch: set mode %q (mode %q needs each answer before its next request)", ModeSingle, a.cfg.Mode)
	}
	valid, err := a.checkTrajs(trajs)
	if err != nil {
		return nil, err
	}
	var out []batchRequest
	for i, b := range deal(valid, a.cfg.TrajectoriesPerRequest) {
		bp, err := a.prepareBatch(i, b, nil)
		if err != nil {
			return nil, err
		}
		user, err := a.tmpl.render("single.tmpl", bp.data)
		if err != nil {
			return nil, err
		}
		msgs := append(append([]openai.ChatCompletionMessage(nil), bp.msgs...), openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: user})
		key := cacheKey(&a.cfg, msgs)
		// The custom_id names the request's content — model, settings,
		// messages — not where it would have been sent: importing with
		// another --llm-url (or a trailing /) finds the same requests.
		// Exports from before named the URL too (legacy).
		content := cfgWithoutURL(a.cfg)
		out = append(out, batchRequest{prompt: bp, msgs: msgs, key: key, id: fmt.Sprintf("ultra-%s-%s", bp.id, cacheKey(&content, msgs)[:16]),
			legacy: fmt.Sprintf("ultra-%s-%s", bp.id, key[:16])})
	}
	return out, nil
}

// ExportBatch writes the requests Annotate would send for trajs as Batch
// API input lines to w and returns how many it wrote.
func (a *Advisor) ExportBatch(trajs []traj.Trajectory, w io.Writer) (int, error) {
	reqs, err := a.batchRequests(trajs)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, r := range reqs {
		in := batchInput{CustomID: r.id, Method: http.MethodPost, URL: batchEndpoint, Body: a.request(r.msgs, a.cfg.JSONMode)}
		if err := enc.Encode(in); err != nil {
			return 0, err
		}
	}
	return len(reqs), bw.Flush()
}

// ImportBatch reads Batch API output lines for the requests ExportBatch
// wrote for trajs (in any order) and turns each answer into annotations as
// Annotate does: the answer is validated, cached and audited. A batch whose
// line is missing, or holds an error or a status other than 200, fails
// (counted in Report.Failed and returned in the error, with the
// annotations of the other batches); lines of requests this export did not
// make are an error too.
func (a *Advisor) ImportBatch(trajs []traj.Trajectory, r io.Reader) ([]advisor.Annotation, advisor.Report, error) {
	var rep advisor.Report
	reqs, err := a.batchRequests(trajs)
	if err != nil {
		return nil, rep, err
	}
	rep.Trajectories = len(trajs)
	byID := make(map[string]*batchRequest, 2*len(reqs))
	for i := range reqs {
		byID[reqs[i].id], byID[reqs[i].legacy] = &reqs[i], &reqs[i]
	}
	answered := map[string]bool{}
	var errs []error
	var anns []advisor.Annotation
	sc := bufio.NewScanner(r)
	limit := int(a.cfg.MaxResponseBytes) + 1<<20
	sc.Buffer(make([]byte, 64<<10), limit)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var out batchOutput
		if err := json.Unmarshal(sc.Bytes(), &out); err != nil {
			return anns, rep, fmt.Errorf("llm: batch output line %d: %w", line, err)
		}
		req, ok := byID[out.CustomID]
		switch {
		case !ok:
			return anns, rep, fmt.Errorf("llm: batch output line %d: custom_id %q is not a request of this export: the episodes, the model or the prompt settings (--llm-config) differ from the export's", line, safeText(out.CustomID))
		case answered[req.id]:
			return anns, rep, fmt.Errorf("llm: batch output line %d: custom_id %q answered twice", line, safeText(out.CustomID))
		}
		answered[req.id] = true
		got, err := a.importAnswer(req, out, &rep)
		if err != nil {
			rep.Failed++
			errs = append(errs, fmt.Errorf("line %d (%s): %w", line, req.id, err))
			continue
		}
		anns = append(anns, got...)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return anns, rep, fmt.Errorf("llm: batch output line %d is longer than %d bytes (max_response_bytes %d + 1 MiB): raise max_response_bytes in --llm-config if the answers are that long", line+1, limit, a.cfg.MaxResponseBytes)
	} else if err != nil {
		return anns, rep, fmt.Errorf("llm: batch output: %w", err)
	}
	for _, req := range reqs {
		if !answered[req.id] {
			rep.Failed++
			errs = append(errs, fmt.Errorf("no output line for %s", req.id))
		}
	}
	rep.Annotations = len(anns)
	if err := errors.Join(errs...); err != nil {
		return anns, rep, fmt.Errorf("llm: batch import: %w", a.scrubErr(err))
	}
	return anns, rep, nil
}

// importAnswer books one output line like a live answer: audit log, usage,
// cache, then the parser.
func (a *Advisor) importAnswer(req *batchRequest, out batchOutput, rep *advisor.Report) ([]advisor.Annotation, error) {
	rec := auditRecord{Time: time.Now().UTC(), RequestID: req.id, Model: a.cfg.Model, Step: "single", JSONMode: a.cfg.JSONMode}
	for _, m := range req.msgs {
		rec.Messages = append(rec.Messages, message{Role: m.Role, Content: m.Content})
	}
	fail := func(err error) error {
		rec.Error = a.scrub(err.Error())
		a.audit.write(rec)
		return err
	}
	switch {
	case out.Error != nil:
		return nil, fail(fmt.Errorf("the batch reported %s: %s", safeText(out.Error.Code), safeText(out.Error.Message)))
	case out.Response == nil:
		return nil, fail(errors.New("no response"))
	case out.Response.StatusCode != http.StatusOK:
		return nil, fail(fmt.Errorf("status %d: %s", out.Response.StatusCode, safeText(truncate(string(out.Response.Body), 300))))
	}
	var resp openai.ChatCompletionResponse
	if err := json.Unmarshal(out.Response.Body, &resp); err != nil {
		return nil, fail(fmt.Errorf("response body: %w", err))
	}
	rep.Requests++
	var answer, finish string
	if len(resp.Choices) > 0 {
		answer, finish = a.scrub(resp.Choices[0].Message.Content), string(resp.Choices[0].FinishReason)
	}
	var prompt strings.Builder
	for _, m := range req.msgs {
		prompt.WriteString(m.Content)
		prompt.WriteByte('\n')
	}
	u, ok := checkUsage(resp.Usage, prompt.Len(), len(req.msgs), interpret.EstimateTokens(prompt.String()), a.cfg.MaxTokens, answer)
	if !ok {
		rep.Reject(rejBadUsage)
	}
	rep.PromptTokens += u.PromptTokens
	rep.CompletionTokens += u.CompletionTokens
	a.spend(0, u.total())
	rec.ResponseID, rec.Answer, rec.Finish, rec.Usage = resp.ID, answer, finish, u
	if err := a.audit.write(rec); err != nil {
		a.log.Warn("llm: audit log", "err", a.scrub(err.Error()))
	}
	if answer != "" {
		if err := a.cache.put(cacheEntry{Key: req.key, Model: a.cfg.Model, Time: time.Now().UTC(), Answer: answer, Usage: u}); err != nil {
			a.log.Warn("llm: cache", "err", a.scrub(err.Error()))
		}
	}
	anns, whole := parseAnswer(answer, req.prompt.eps, a.spec, a.cfg.MaxCritical, a.source, rep)
	if !whole {
		rep.Failed++ // an unusable answer fails its batch without an error, as live
		return nil, nil
	}
	return anns, nil
}
