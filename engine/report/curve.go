package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// LoadCurve reads a run's metrics.jsonl, one JSON object a line with
// "global_step" and "return_last10", and returns its training curve in
// file order. Rows whose return_last10 is null or missing (no episode
// finished yet) are skipped, as are blank lines and a final line cut off
// without a newline (a write torn by a crash). Any other malformed line is
// an error.
func LoadCurve(metricsJSONL string) ([]Point, error) {
	b, err := os.ReadFile(metricsJSONL)
	if err != nil {
		return nil, err
	}
	lines := bytes.Split(b, []byte("\n"))
	var curve []Point
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var row struct {
			Step   *int64   `json:"global_step"`
			Return *float64 `json:"return_last10"`
		}
		err := json.Unmarshal(line, &row)
		if err == nil && row.Step == nil {
			err = fmt.Errorf("no global_step")
		}
		if err != nil {
			if i == len(lines)-1 { // torn final line
				break
			}
			return nil, fmt.Errorf("report: %s:%d: %w", metricsJSONL, i+1, err)
		}
		if row.Return != nil {
			curve = append(curve, Point{Step: *row.Step, Return: *row.Return})
		}
	}
	return curve, nil
}
