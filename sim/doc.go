// Package sim runs virtual encoders: a scenario's device model served on
// a pseudo-terminal, so that the pipeline drives it through a real serial
// port exactly as it would drive a desk encoder.
//
// Start builds an Encoder from a scenario: its cards, its device model
// (looked up by the scenario's model name), the holds its timeline needs,
// and a pty whose slave a client opens. With Options.LinkDir set, the
// slave is also published as LinkDir/<encoder id>, a stable path that
// survives Hangup, which replaces the pty as unplugging and replugging
// the encoder would. The directory must be the user's own (it is created
// mode 0700), and the encoder holds its link's name while it runs, so a
// second encoder of the same id under the same directory is refused
// rather than taking the first one's link over. Play runs the scenario's timeline against the
// running encoder; Close stops it and releases everything.
package sim
