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
//   - An outcome is decided in memory first and written to the store
//     second (record.go): readers see it once the store has it, or has
//     refused it, or the attempt's deadline passed, so an attempt is
//     terminal by its deadline however slow or full the store is, and an
//     outcome a reader saw on a healthy store survives a crash. An
//     outcome the store refuses stays in memory, served with the
//     credential change it brings, and is written again until the store
//     takes it. While the store refuses writes, new encodes get 503
//     service_unavailable and no card is written: a queued attempt waits
//     for the store and expires, card untouched, if it does not recover.
//   - The store is the source of truth across restarts. After a restart,
//     Start expires the pending attempts whose deadline passed and resumes
//     the others on their encoders with their original deadlines. Before
//     an encoder is asked to write, a lease in the store marks the
//     attempt as writing (markWriting). A resumed attempt that finds the
//     mark of the server before it knows the card may already hold the
//     credential: it is not written again when the credential refuses
//     reissue, and a retry that finds no card ends uncategorized_error,
//     not with a refusal that would say nothing was written.
//   - A credential whose system refuses reissue is encoded onto one card
//     at most, and no card is written once an encode of it succeeded:
//     its encodes take a claim on it (claim.go: a lock in memory and a
//     lease in the store that lasts until the attempt's deadline) and
//     check is_issued again under the claim, which is released once the
//     outcome is in the store, so a server killed mid-write leaves it
//     behind until the attempt's deadline.
//   - A credential whose ends_at has passed is not encoded: Encode refuses
//     it (400 invalid_input), and one that ends while queued fails
//     (uncategorized_error) before its card is written.
//   - Drain stops taking encodes (503 service_unavailable) and waits for
//     the encodes being accepted, the attempts in flight, each of which
//     ends by its deadline, and their outcomes' writes; a server's
//     graceful shutdown is Drain then Close.
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
//
// The files follow the jobs: config.go (what a Service is made from),
// service.go (start, resume, close), api.go (what the API calls),
// track.go (deadline timers and draining), worker.go (one encoder's
// queue and its walk from the store to the driver and back), record.go
// (deciding and recording outcomes), claim.go, shared.go, cache.go and
// outcome.go.
package attempt
