// Package attempt runs encode action attempts: it accepts an encode request,
// records a pending attempt, and drives it to a terminal status on the
// encoder it names.
//
// Concepts:
//
//   - Service implements what the API needs for encoding: Encode, Attempt,
//     SimulateNext, Encoders and Encoder.
//   - Each configured encoder has one worker. A worker runs its encoder's
//     attempts one at a time in arrival (FIFO) order, so a slow or silent
//     encoder delays only its own queue. It opens its port lazily and keeps
//     it open between encodes; after a hang-up it closes the port so the
//     next encode reopens the same path (a device may come back there).
//   - Every attempt has a deadline. A timer per attempt records
//     action_attempt_expired at the deadline whatever the worker is doing,
//     so an attempt stuck in a queue or on a silent encoder still ends on
//     time. The store's FinishAttempt is exactly-once: whichever of the
//     timer and the worker finishes first wins, and a worker that loses
//     leaves the credential untouched.
//   - The store is the source of truth. After a restart, Start expires the
//     pending attempts whose deadline passed and resumes the others on
//     their encoders with their original deadlines.
//   - Drain stops taking encodes (503 service_unavailable) and waits for
//     the attempts in flight, each of which ends by its deadline; a
//     server's graceful shutdown is Drain then Close.
//   - With Sharing, several servers use one store: each encoder is driven
//     by the holder of its lease (shared.go); attempts accepted by another
//     server are found by polling the store; a dead holder's encoders are
//     taken over when its leases expire.
//   - Reads of attempts and credentials are served from memory where that
//     cannot go stale (cache.go): entries are put only after the store
//     committed them.
//   - Driver outcomes map onto API error types in one table (outcome.go),
//     following docs/protocols/pms.md, so a newer API revision changes that
//     table and not the drivers.
package attempt
