// Package workflows holds the checks of the repository's CI workflow
// files (.github/workflows): that docs/ci.md shows them as they are and
// that actionlint finds nothing wrong in them.
package workflows
