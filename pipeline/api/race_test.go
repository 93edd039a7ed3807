//go:build race

package api_test

// raceDetector is true when the tests run under the race detector, which
// makes every request several times slower.
const raceDetector = true
