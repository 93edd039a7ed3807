// Package bench holds what the performance harness (cmd/encoder-bench)
// computes and prints: latency summaries (nearest-rank percentiles over a
// sample), the ratio of a figure to the raw limit measured in the same
// run, and the table that lays figures, limits, ratios and targets out as
// aligned text or as Markdown.
//
// Absolute times drift from run to run on a shared machine; a figure's
// ratio to a limit measured beside it holds better, so every row carries
// both.
package bench
