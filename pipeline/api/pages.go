package api

import (
	"encoding/base64"
	"slices"

	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// pagination is a list answer's pagination object; Seam's SDKs need it to
// page through a list (their paginators fail without it).
type pagination struct {
	HasNextPage    bool    `json:"has_next_page"`
	NextPageCursor *string `json:"next_page_cursor"`
	// NextPageURL is always null: the cursor is enough to ask for the
	// next page, and Seam's schemas allow null.
	NextPageURL *string `json:"next_page_url"`
}

// pageCursor is the opaque cursor of the page that starts at the item
// with that id.
func pageCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// paginate returns the page pg asks for of items, each known by its id,
// and the pagination object that leads to the next. A cursor that names
// no item of the list is invalid_input: the list changed under it, or it
// was never one of this list's.
func paginate[T any](items []T, id func(T) string, pg page) ([]T, pagination, error) {
	start := 0
	if pg.paged {
		if start = slices.IndexFunc(items, func(it T) bool { return pageCursor(id(it)) == pg.cursor }); start < 0 {
			return nil, pagination{}, seam.InvalidInput("page_cursor %q is not a cursor this list gave", pg.cursor)
		}
	}
	end := len(items)
	if pg.limit > 0 && pg.limit < end-start {
		end = start + pg.limit
	}
	out := pagination{}
	if end < len(items) {
		out.HasNextPage = true
		next := pageCursor(id(items[end]))
		out.NextPageCursor = &next
	}
	return items[start:end], out, nil
}
