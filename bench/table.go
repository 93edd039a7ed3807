package bench

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Verdict says whether a figure meets its target: Met, Missed, or a
// sentence when a figure has more than one target.
type Verdict string

const (
	Met     Verdict = "met"
	Missed  Verdict = "missed"
	NoClaim Verdict = "" // the row has no target, or was not measured
)

// Judge is Met when ok, Missed otherwise.
func Judge(ok bool) Verdict {
	if ok {
		return Met
	}
	return Missed
}

// Row is one figure: its value, the raw limit measured in the same run,
// their ratio and the target. Cells are already formatted.
type Row struct {
	Figure  string
	Value   string
	Limit   string
	Ratio   string
	Target  string
	Verdict Verdict
}

// FigureHeader names the columns of a table of figures (Row).
var FigureHeader = []string{"figure", "value", "limit (same run)", "ratio", "target", "verdict"}

// Table is rows of cells under a header. An empty cell, or one missing
// at the end of a short row, is shown as None; a row longer than the
// header is an error when the table is written.
type Table struct {
	Header []string
	Rows   [][]string
}

// NewFigureTable returns an empty table with FigureHeader.
func NewFigureTable() *Table { return &Table{Header: FigureHeader} }

// Add appends a row of cells.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// AddFigure appends a figure's row.
func (t *Table) AddFigure(r Row) {
	t.Add(r.Figure, r.Value, r.Limit, r.Ratio, r.Target, string(r.Verdict))
}

// cells returns every row (header first), padded to the header's width.
func (t *Table) cells() ([][]string, error) {
	if len(t.Header) == 0 {
		return nil, fmt.Errorf("table has no header")
	}
	out := [][]string{t.Header}
	for i, r := range t.Rows {
		if len(r) > len(t.Header) {
			return nil, fmt.Errorf("row %d has %d cells, the header %d", i+1, len(r), len(t.Header))
		}
		row := make([]string, len(t.Header))
		for j := range row {
			row[j] = None
			if j < len(r) && r[j] != "" {
				row[j] = r[j]
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// WriteText writes the table as columns aligned with spaces (widths in
// runes, so "µs" and "×" count as one), the header underlined with dashes.
func (t *Table) WriteText(w io.Writer) error {
	rows, err := t.cells()
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	width := make([]int, len(t.Header))
	for _, cells := range rows {
		for i, c := range cells {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	line(rows[0])
	dashes := make([]string, len(width))
	for i, n := range width {
		dashes[i] = strings.Repeat("-", n)
	}
	line(dashes)
	for _, cells := range rows[1:] {
		line(cells)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteMarkdown writes the table as a GitHub Markdown table. A "|" in a
// cell is escaped so it cannot split the cell.
func (t *Table) WriteMarkdown(w io.Writer) error {
	rows, err := t.cells()
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(strings.ReplaceAll(c, "|", `\|`))
			b.WriteString(" |")
		}
		b.WriteByte('\n')
	}
	row(rows[0])
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---"
	}
	row(sep)
	for _, r := range rows[1:] {
		row(r)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
