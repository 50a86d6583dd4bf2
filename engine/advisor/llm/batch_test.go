package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

// outputLine writes one Batch API output line in the format OpenAI
// documents: {"id", "custom_id", "response": {"status_code", "request_id",
// "body"}, "error"}.
func outputLine(t testing.TB, customID string, status int, body any, errCode string) string {
	t.Helper()
	line := map[string]any{"id": "batch_req_" + customID[len(customID)-6:], "custom_id": customID, "error": nil}
	if errCode != "" {
		line["response"] = nil
		line["error"] = map[string]string{"code": errCode, "message": "the request was not run"}
	} else {
		line["response"] = map[string]any{"status_code": status, "request_id": "req_1", "body": body}
	}
	b, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func completion(content string) map[string]any {
	return map[string]any{"id": "chatcmpl-b", "object": "chat.completion", "model": "test-model",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]int{"prompt_tokens": 900, "completion_tokens": 80, "total_tokens": 980}}
}

func TestBatchExportImport(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	// A live server that must not be called: imported answers are cached.
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		apiError(w, http.StatusTeapot, "no live calls")
	})
	cfg := testConfig(srv.URL)
	cfg.TrajectoriesPerRequest, cfg.MaxRetries = 2, 0
	cfg.CacheDir, cfg.AuditLog = t.TempDir(), filepath.Join(t.TempDir(), "audit.jsonl")
	a := newAdvisor(t, cfg, nil)

	var exp bytes.Buffer
	n, err := a.ExportBatch(trajs, &exp)
	if err != nil || n != 2 {
		t.Fatalf("exported %d requests, %v", n, err)
	}
	var ins []batchInput
	for sc := bufio.NewScanner(&exp); sc.Scan(); {
		var in batchInput
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			t.Fatal(err)
		}
		if in.Method != "POST" || in.URL != "/v1/chat/completions" || in.Body.Model != "test-model" || len(in.Body.Messages) != 2 ||
			!strings.HasPrefix(in.CustomID, "ultra-b") || in.Body.MaxTokens != cfg.MaxTokens {
			t.Fatalf("input line %+v", in)
		}
		ins = append(ins, in)
	}
	answer := func(in batchInput) map[string]any {
		return completion(goodAnswer(t, cfg, trajs, request{req: openai.ChatCompletionRequest{Messages: in.Body.Messages}}))
	}
	good0, good1 := outputLine(t, ins[0].CustomID, 200, answer(ins[0]), ""), outputLine(t, ins[1].CustomID, 200, answer(ins[1]), "")

	t.Run("reordered good lines", func(t *testing.T) {
		anns, rep, err := a.ImportBatch(trajs, strings.NewReader(good1+"\n\n"+good0+"\n"))
		if err != nil || len(anns) != 4 || rep.Failed != 0 || rep.PromptTokens != 1800 {
			t.Fatalf("%d annotations, report %+v, %v", len(anns), rep, err)
		}
		// The answers are in the cache: a live run asks nothing.
		live, lrep, err := a.Annotate(context.Background(), trajs)
		if err != nil || len(live) != 4 || lrep.CacheHits != 2 || srv.count() != 0 {
			t.Fatalf("live after import: %d annotations, %+v, %v, %d requests", len(live), lrep, err, srv.count())
		}
	})
	for _, tc := range []struct {
		name, file, want string
		kept             int
	}{
		{"an error line", good0 + "\n" + outputLine(t, ins[1].CustomID, 0, nil, "rate_limit_exceeded"), "rate_limit_exceeded", 2},
		{"a status 400", outputLine(t, ins[0].CustomID, 400, map[string]any{"error": map[string]string{"message": "bad"}}, "") + "\n" + good1, "status 400", 2},
		{"a missing line", good0, "no output line for " + ins[1].CustomID, 2},
		{"an unknown id", good0 + "\n" + strings.Replace(good1, ins[1].CustomID, "ultra-b9-0000000000000000", 1), `custom_id "ultra-b9-0000000000000000" is not a request of this export`, 2},
		{"a line twice", good0 + "\n" + good0, "answered twice", 2},
		{"not JSON", "{", "batch output line 1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			anns, _, err := a.ImportBatch(trajs, strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) || len(anns) != tc.kept {
				t.Fatalf("%d annotations, err %v; want %d and an error containing %q", len(anns), err, tc.kept, tc.want)
			}
		})
	}
	three := cfg
	three.Mode = ModeThree
	if _, err := newAdvisor(t, three, nil).ExportBatch(trajs, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Errorf("three-request mode exported: %v", err)
	}
}

// TestBatchImportHostileAndElsewhere: a results file's error text cannot
// steer the terminal (its control characters are escaped), a line over the
// limit names its number and the limit, and answers exported against one
// --llm-url import under another (issue 27, items 11, 14, 15).
func TestBatchImportHostileAndElsewhere(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	cfg := testConfig("http://127.0.0.1:1/v1")
	cfg.TrajectoriesPerRequest, cfg.MaxRetries, cfg.MaxResponseBytes = 2, 0, 1<<10
	cfg.CacheDir = t.TempDir()
	a := newAdvisor(t, cfg, nil)
	var exp bytes.Buffer
	if _, err := a.ExportBatch(trajs, &exp); err != nil {
		t.Fatal(err)
	}
	var in batchInput
	if err := json.Unmarshal(bytes.TrimSpace(exp.Bytes()), &in); err != nil {
		t.Fatal(err)
	}
	hostile := strings.Replace(outputLine(t, in.CustomID, 0, nil, "x"), `"the request was not run"`, `"\u001b]0;pwned\u0007\u001b[2K\rok: all good"`, 1)
	_, _, err := a.ImportBatch(trajs, strings.NewReader(hostile))
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07\r") || !strings.Contains(err.Error(), `\x1b]0;pwned`) {
		t.Errorf("a hostile error message reached the error unescaped: %q", err)
	}
	long := outputLine(t, in.CustomID, 200, completion(strings.Repeat("x", 2<<20)), "")
	if _, _, err := a.ImportBatch(trajs, strings.NewReader(long)); err == nil || !strings.Contains(err.Error(), "line 1 is longer than") ||
		!strings.Contains(err.Error(), "max_response_bytes") {
		t.Errorf("an over-long line: %v", err)
	}
	answer := completion(goodAnswer(t, cfg, trajs, request{req: openai.ChatCompletionRequest{Messages: in.Body.Messages}}))
	for _, url := range []string{"http://127.0.0.1:1/v1/", "https://api.example.com/v1"} {
		other := cfg
		other.BaseURL = url
		anns, _, err := newAdvisor(t, other, nil).ImportBatch(trajs, strings.NewReader(outputLine(t, in.CustomID, 200, answer, "")))
		if err != nil || len(anns) == 0 {
			t.Errorf("import under --llm-url %s: %d annotations, %v", url, len(anns), err)
		}
	}
	// An export from before (its custom_id named the URL) still imports.
	legacy := "ultra-" + strings.Split(in.CustomID, "-")[1] + "-" + cacheKey(&cfg, in.Body.Messages)[:16]
	if anns, _, err := a.ImportBatch(trajs, strings.NewReader(outputLine(t, legacy, 200, answer, ""))); err != nil || len(anns) == 0 {
		t.Errorf("a legacy custom_id: %d annotations, %v", len(anns), err)
	}
}

// TestScrubErrEscapesServerText: a live server's error text is escaped too,
// and the error still unwraps to what it wraps.
func TestScrubErrEscapesServerText(t *testing.T) {
	a := &Advisor{}
	base := errors.New("server says \x1b[2Kok")
	err := a.scrubErr(fmt.Errorf("request failed: %w", base))
	if strings.Contains(err.Error(), "\x1b") || !errors.Is(err, base) {
		t.Errorf("scrubbed %q, unwraps to base %v", err, errors.Is(err, base))
	}
}
