package llm

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// errTooLarge fails a response whose body exceeds Config.MaxResponseBytes.
var errTooLarge = errors.New("llm: response body exceeds max_response_bytes")

// callInfo collects what the HTTP layer saw of one attempt; the doer finds
// it in the request context (the client library calls Do synchronously).
type callInfo struct {
	status     int
	retryAfter time.Duration // from Retry-After / retry-after-ms; -1 if absent
	tooLarge   bool
}

type callInfoKey struct{}

// cappedDoer is the client library's HTTPDoer: it records the status and
// Retry-After of each response and caps the body it lets anyone read.
type cappedDoer struct {
	client *http.Client
	max    int64
	now    func() time.Time
}

func (d *cappedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	info, _ := req.Context().Value(callInfoKey{}).(*callInfo)
	if info == nil {
		info = &callInfo{}
	}
	info.status = resp.StatusCode
	info.retryAfter = parseRetryAfter(resp.Header, d.now())
	if resp.ContentLength > d.max {
		resp.Body.Close()
		info.tooLarge = true
		return nil, errTooLarge
	}
	resp.Body = &cappedBody{rc: resp.Body, max: d.max, info: info}
	return resp, nil
}

// cappedBody fails once more than max bytes were read, so a huge answer is
// never buffered whole.
type cappedBody struct {
	rc   io.ReadCloser
	n    int64
	max  int64
	info *callInfo
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.n > b.max {
		return 0, errTooLarge
	}
	if room := b.max + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		b.info.tooLarge = true
		return n, errTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// parseRetryAfter reads retry-after-ms (OpenAI, Azure) or Retry-After in
// seconds or as an HTTP date; -1 when absent or unreadable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 1e6 {
			return -1
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return -1
}

// statusOf returns the HTTP status of a failed call: from the doer's record,
// else from the library's error types, else 0 (no response).
func statusOf(err error, info *callInfo) int {
	if info != nil && info.status != 0 {
		return info.status
	}
	var ae *openai.APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatusCode
	}
	var re *openai.RequestError
	if errors.As(err, &re) {
		return re.HTTPStatusCode
	}
	return 0
}

// mentionsResponseFormat reports whether a 400 is about response_format
// (servers without JSON mode).
func mentionsResponseFormat(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "response_format") || strings.Contains(s, "response format")
}

// retryDecision says whether a failed attempt is worth retrying and, when
// the server said so, how long to wait first (-1: use the backoff).
func retryDecision(err error, info *callInfo) (retry bool, wait time.Duration) {
	if info.tooLarge || errors.Is(err, errTooLarge) {
		return false, -1
	}
	switch st := statusOf(err, info); {
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		return true, info.retryAfter
	case st == http.StatusRequestTimeout || st == http.StatusConflict || st == http.StatusTooEarly || st >= 500:
		return true, -1
	case st >= 400:
		return false, -1
	case st >= 200 && st < 300:
		// The answer arrived but did not decode: malformed JSON will not
		// improve; a body cut short (timeout, reset) may.
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return false, -1
		}
		return true, -1
	}
	return true, -1 // no response: network error or per-request timeout
}

// backoff is exponential backoff with full jitter.
func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	d := maxWait
	if attempt < 30 {
		d = min(maxWait, base<<attempt)
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// reasoningModel reports models that take max_completion_tokens and a
// fixed temperature (OpenAI o-series and gpt-5).
func reasoningModel(model string) bool {
	m := strings.ToLower(model)
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:] // "openai/o3-mini" on routers
	}
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}
