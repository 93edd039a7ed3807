package record

import "github.com/encoderlab/encoderlab/pipeline/seam"

// Scanner reads one row's columns: what *sql.Row, *sql.Rows, pgx.Row and
// pgx.Rows have in common.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a query's result as both drivers hand it over (*sql.Rows,
// pgx.Rows), less Close, whose signature differs: the caller closes rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect reads every row of rows with scan, in order, and then the error
// that ended the rows, if any. No rows is an empty slice, not nil, so
// that a list encodes as [] rather than null.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	list := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return list, nil
}

// ScanCredential reads a credential from a row whose one column is its
// body, as Encode wrote it.
func ScanCredential(row Scanner) (*seam.Credential, error) {
	var body string
	if err := row.Scan(&body); err != nil {
		return nil, err
	}
	return Decode(body)
}

// ScanEvent reads an event from a row whose one column is its body, as
// Event wrote it.
func ScanEvent(row Scanner) (*seam.Event, error) {
	var body string
	if err := row.Scan(&body); err != nil {
		return nil, err
	}
	return DecodeEvent(body)
}
