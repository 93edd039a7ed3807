package api

import (
	"strings"

	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// problems are what is wrong with a request's parameters, gathered so that
// one invalid_input answer names them all: in its message, in order, and
// in validation_errors, by parameter.
type problems struct {
	messages []string
	tree     seam.ValidationErrors
}

func (ps *problems) add(path []string, msg string) {
	ps.tree.Add(path, msg)
	if len(path) > 0 {
		msg = strings.Join(path, ".") + " " + msg
	}
	ps.messages = append(ps.messages, msg)
}

func (ps *problems) empty() bool { return len(ps.messages) == 0 }

func (ps *problems) refusal() *seam.Error {
	e := seam.InvalidInput("%s", strings.Join(ps.messages, "; "))
	tree := ps.tree
	e.Validation = &tree
	return e
}
