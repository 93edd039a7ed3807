// encode.mjs drives encoderd with Seam's official JavaScript SDK
// (@seamapi/http, the client the npm package "seam" re-exports as Seam),
// unchanged, and checks every answer the SDK receives against
// Seam's own published zod schemas (npm "@seamapi/types").
//
//   SEAM_ENDPOINT=http://127.0.0.1:8450 SEAM_API_KEY=seam_… node encode.mjs [flags]
//
// Authentication: SEAM_API_KEY, or SEAM_PERSONAL_ACCESS_TOKEN together with
// SEAM_WORKSPACE_ID.
//
// Flags:
//   --encoder NAME    display_name of the encoder to use (default front-desk-1)
//   --user ID         acs_user_id to create the card credential for
//                     (default the lab's Visionline guest)
//   --expect OUTCOME  "success" (default), or the error type the encode must
//                     fail with, e.g. no_credential_on_encoder
//   --profile P       the profile the workspace is served: current (default),
//                     older or latest; under latest the encoder list needs a
//                     filter, as Seam's request schema says, and the run also
//                     simulates an encoding_interrupted failure
//
// It lists the ACS systems and their users (checking each get), lists the
// encoders (also page by page), finds the named one, creates
// a card credential, encodes it and waits for the action attempt the way
// SDK users do, then reads the credential back. Along the way it checks the error paths the
// SDK types: an unknown encoder (SeamHttpApiError, acs_encoder_not_found,
// 404), a malformed id (SeamHttpInvalidInputError) and a bad key
// (SeamHttpUnauthorizedError). On success it prints one JSON line,
// {"ok": true, …}, and exits 0; on any failure it prints {"ok": false,
// "error": …} and a readable message on stderr, and exits 1.

import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

import { schemas } from '@seamapi/types/connect'
import {
  SeamHttp as Seam,
  SeamActionAttemptFailedError,
  SeamActionAttemptTimeoutError,
  SeamHttpApiError,
  SeamHttpInvalidInputError,
  SeamHttpUnauthorizedError,
} from '@seamapi/http'

const labGuest = '92ca4ebd-dc40-44f1-984c-3725071f353b' // fixtures/lab.yaml: visionline-hotel, guest

// How long the SDK may wait for an action attempt: well past the attempt
// deadline of a scaled server, so the server, not the SDK, decides.
const waitForActionAttempt = { pollingInterval: 50, timeout: 20_000 }

class CheckError extends Error {
  constructor(check, message, detail) {
    super(`${check}: ${message}`)
    this.name = 'CheckError'
    this.check = check
    this.detail = detail
  }
}

const packageVersion = (name) =>
  JSON.parse(
    readFileSync(
      new URL(`./node_modules/${name}/package.json`, import.meta.url),
      'utf8',
    ),
  ).version

const sdk = {
  '@seamapi/http': packageVersion('@seamapi/http'),
  '@seamapi/types': packageVersion('@seamapi/types'),
}

// What each route answers with, in Seam's published schemas.
const responses = {
  '/acs/encoders/list': { key: 'acs_encoders', resource: 'acs_encoder', list: true },
  '/acs/encoders/get': { key: 'acs_encoder', resource: 'acs_encoder' },
  '/acs/encoders/encode_credential': { key: 'action_attempt', resource: 'action_attempt' },
  '/acs/encoders/scan_credential': { key: 'action_attempt', resource: 'action_attempt' },
  '/action_attempts/get': { key: 'action_attempt', resource: 'action_attempt' },
  '/acs/credentials/create': { key: 'acs_credential', resource: 'acs_credential' },
  '/acs/credentials/get': { key: 'acs_credential', resource: 'acs_credential' },
  '/acs/credentials/list': { key: 'acs_credentials', resource: 'acs_credential', list: true },
  '/action_attempts/list': { key: 'action_attempts', resource: 'action_attempt', list: true },
  '/acs/systems/list': { key: 'acs_systems', resource: 'acs_system', list: true },
  '/acs/systems/get': { key: 'acs_system', resource: 'acs_system' },
  '/acs/users/list': { key: 'acs_users', resource: 'acs_user', list: true },
  '/acs/users/get': { key: 'acs_user', resource: 'acs_user' },
  '/events/list': { key: 'events', resource: 'seam_event', list: true },
  '/events/get': { key: 'event', resource: 'seam_event' },
}

// Fields Seam's current schemas require that the API spec (the "Encode a
// Credential" page the server follows) does not define. The server
// follows the spec; a missing one is recorded in the output, not failed.
const specDivergences = {
  acs_credential: ['connected_account_id'],
}
const placeholderID = '00000000-0000-4000-8000-000000000000'

// Observations across the run, by route: fields Seam's schemas do not
// know (a client ignores them) and spec divergences met.
const unknownFields = {}
const divergences = {}

const note = (into, route, field) => (into[route] ??= new Set()).add(field)

// credentialsIn returns the credential objects a resource carries.
const credentialsIn = (resource, value) => {
  if (resource === 'acs_credential') return [value]
  if (resource === 'action_attempt' && value?.result != null) return [value.result]
  return []
}

// schemaOf picks the schema a value must match; for an action attempt,
// the union member of its action_type and status, so a mismatch names
// the field instead of "Invalid input".
const schemaOf = (resource, value) => {
  const schema = schemas[resource]
  if (resource !== 'action_attempt') return schema
  const member = schema._def.options.find(
    (o) => o.shape.action_type?._def.value === value?.action_type && o.shape.status?._def.value === value?.status,
  )
  return member ?? schema
}

// conform checks one resource against Seam's schema and returns the
// problems, after recording unknown fields and spec divergences.
const conform = (route, resource, value) => {
  const copy = structuredClone(value)
  for (const c of credentialsIn(resource, copy)) {
    if (c == null || typeof c !== 'object') continue
    for (const field of specDivergences.acs_credential) {
      if (!(field in c)) {
        note(divergences, route, `acs_credential.${field}`)
        c[field] = placeholderID
      }
    }
    for (const k of Object.keys(c)) {
      if (!(k in schemas.acs_credential.shape)) note(unknownFields, route, `acs_credential.${k}`)
    }
  }
  if (resource === 'acs_encoder' && value != null && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (!(k in schemas.acs_encoder.shape)) note(unknownFields, route, `acs_encoder.${k}`)
    }
  }
  const parsed = schemaOf(resource, copy).safeParse(copy)
  if (parsed.success) return []
  return parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
}

// checkResponse validates one successful answer as it reaches the SDK.
const checkResponse = (response) => {
  const path = new URL(response.config.url, response.config.baseURL).pathname
  const route = `${response.config.method.toUpperCase()} ${path}`
  const requestId = response.headers['seam-request-id']
  if (typeof requestId !== 'string' || requestId === '') {
    throw new CheckError(route, 'response has no seam-request-id header')
  }
  const contentType = String(response.headers['content-type'] ?? '')
  if (!contentType.startsWith('application/json')) {
    throw new CheckError(route, `Content-Type is ${JSON.stringify(contentType)}, want application/json`)
  }
  const body = response.data
  if (body == null || typeof body !== 'object' || body.ok !== true) {
    throw new CheckError(route, `body is not {…, "ok": true}: ${JSON.stringify(body)}`)
  }
  const want = responses[path]
  if (want == null) return response
  const value = body[want.key]
  if (want.list && !Array.isArray(value)) {
    throw new CheckError(route, `"${want.key}" is not a list: ${JSON.stringify(value)}`)
  }
  const problems = (want.list ? value : [value]).flatMap((v) => conform(route, want.resource, v))
  if (problems.length > 0) {
    throw new CheckError(
      route,
      `"${want.key}" does not match Seam's published ${want.resource} schema (request ${requestId}): ${problems.join('; ')}`,
      { body },
    )
  }
  return response
}

// expectThrows runs fn, which must throw an instance of type whose code
// (and status, when given) match.
const expectThrows = async (check, fn, type, code, statusCode) => {
  let err
  try {
    await fn()
  } catch (e) {
    err = e
  }
  if (err === undefined) throw new CheckError(check, `succeeded; want ${type.name} ${code}`)
  if (!(err instanceof type)) {
    throw new CheckError(check, `threw ${err?.name ?? typeof err}: ${err?.message}; want ${type.name} ${code}`)
  }
  if (err.code !== code) throw new CheckError(check, `${type.name} code ${JSON.stringify(err.code)}, want ${code}`)
  if (statusCode !== undefined && err.statusCode !== statusCode) {
    throw new CheckError(check, `${type.name} statusCode ${err.statusCode}, want ${statusCode}`)
  }
  if ('requestId' in err && !err.requestId) throw new CheckError(check, `${type.name} has no requestId`)
  return err
}

const must = (check, cond, message) => {
  if (!cond) throw new CheckError(check, message)
}

const hasWarning = (credential, code) => credential.warnings.some((w) => w.warning_code === code)

const clientOptions = (env) => {
  const endpoint = env.SEAM_ENDPOINT
  if (!endpoint) throw new CheckError('setup', 'SEAM_ENDPOINT is not set (e.g. http://127.0.0.1:8450)')
  if (env.SEAM_API_KEY) return { endpoint, apiKey: env.SEAM_API_KEY }
  if (env.SEAM_PERSONAL_ACCESS_TOKEN && env.SEAM_WORKSPACE_ID) {
    return { endpoint, personalAccessToken: env.SEAM_PERSONAL_ACCESS_TOKEN, workspaceId: env.SEAM_WORKSPACE_ID }
  }
  throw new CheckError('setup', 'set SEAM_API_KEY, or SEAM_PERSONAL_ACCESS_TOKEN and SEAM_WORKSPACE_ID')
}

const run = async (args, env) => {
  const started = new Date().toISOString()
  const options = clientOptions(env)
  const seam = new Seam(options)
  seam.client.interceptors.response.use(checkResponse)
  const checks = []
  const passed = (name) => checks.push(name)

  // A bad key is the SDK's typed 401.
  const stranger = new Seam({ endpoint: options.endpoint, apiKey: 'seam_not_a_key_of_this_lab' })
  await expectThrows('unauthorized', () => stranger.acs.encoders.list(), SeamHttpUnauthorizedError, 'unauthorized', 401)
  passed('unauthorized')

  // The directory: every system and its users, each also by its get.
  const systems = await seam.acs.systems.list()
  must('list systems', systems.length > 0, 'no ACS system')
  for (const sys of systems) {
    const one = await seam.acs.systems.get({ acs_system_id: sys.acs_system_id })
    must('get system', one.acs_system_id === sys.acs_system_id, `got system ${one.acs_system_id}`)
    const users = await seam.acs.users.list({ acs_system_id: sys.acs_system_id })
    for (const u of users) {
      must('list users', u.acs_system_id === sys.acs_system_id, `user ${u.acs_user_id} of system ${u.acs_system_id}, listed for ${sys.acs_system_id}`)
      const back = await seam.acs.users.get({ acs_user_id: u.acs_user_id })
      must('get user', back.acs_user_id === u.acs_user_id, `got user ${back.acs_user_id}`)
    }
  }
  const allUsers = await seam.createPaginator(seam.acs.users.list({ limit: 1 })).flattenToArray()
  must('list users', allUsers.some((u) => u.acs_user_id === args.user), `user ${args.user} is not listed`)
  await expectThrows('unknown system', () => seam.acs.systems.get({ acs_system_id: randomUUID() }), SeamHttpApiError, 'acs_system_not_found', 404)
  passed('directory')

  if (args.encoder === '') return withoutEncoder(seam, args, started, checks, passed)

  const filter = { acs_system_ids: systems.map((s) => s.acs_system_id) }
  if (args.profile === 'latest') {
    // Seam's request schema is a oneOf of three filters.
    await expectThrows('list encoders unfiltered', () => seam.acs.encoders.list(), SeamHttpInvalidInputError, 'invalid_input', 400)
  }
  const encoders = await seam.acs.encoders.list(filter)
  const encoder = encoders.find((e) => e.display_name === args.encoder)
  must('list encoders', encoder, `no encoder named ${args.encoder} among ${JSON.stringify(encoders.map((e) => e.display_name))}`)
  passed('list encoders')

  // The SDK's paginator needs "pagination" on every list answer; pages of
  // one must walk the same encoders in the same order.
  const paged = await seam.createPaginator(seam.acs.encoders.list({ ...filter, limit: 1 })).flattenToArray()
  const ids = (es) => JSON.stringify(es.map((e) => e.acs_encoder_id))
  must('paginate encoders', ids(paged) === ids(encoders), `pages of 1 gave ${ids(paged)}, want ${ids(encoders)}`)
  // The SDK writes an empty list in a query string as "name=".
  const none = await seam.acs.encoders.list({ acs_encoder_ids: [] })
  must('paginate encoders', none.length === 0, `acs_encoder_ids [] gave ${none.length} encoders, want none`)
  passed('paginate encoders')

  const got = await seam.acs.encoders.get({ acs_encoder_id: encoder.acs_encoder_id })
  must('get encoder', got.acs_encoder_id === encoder.acs_encoder_id, `got encoder ${got.acs_encoder_id}`)
  passed('get encoder')

  await expectThrows(
    'unknown encoder',
    () => seam.acs.encoders.get({ acs_encoder_id: randomUUID() }),
    SeamHttpApiError,
    'acs_encoder_not_found',
    404,
  )
  passed('unknown encoder')

  const created = await seam.acs.credentials.create({ acs_user_id: args.user, access_method: 'card' })
  must('create credential', created.is_issued === false, `is_issued ${created.is_issued}, want false`)
  must('create credential', hasWarning(created, 'waiting_to_be_issued'), 'no waiting_to_be_issued warning')
  passed('create credential')

  const invalid = await expectThrows(
    'malformed encoder id',
    () => seam.acs.encoders.encodeCredential({ acs_credential_id: created.acs_credential_id, acs_encoder_id: args.encoder }),
    SeamHttpInvalidInputError,
    'invalid_input',
    400,
  )
  // The SDK's own reading of validation_errors names the parameter.
  must('malformed encoder id', invalid.getValidationErrorMessages('acs_encoder_id').length > 0,
    `getValidationErrorMessages('acs_encoder_id') is empty; validation_errors: ${JSON.stringify(invalid.validationErrors)}`)
  await expectThrows(
    'encode on unknown encoder',
    () => seam.acs.encoders.encodeCredential({ acs_credential_id: created.acs_credential_id, acs_encoder_id: randomUUID() }),
    SeamHttpApiError,
    'acs_encoder_not_found',
    404,
  )
  passed('encode refusals')

  const encode = () =>
    seam.acs.encoders.encodeCredential(
      { acs_credential_id: created.acs_credential_id, acs_encoder_id: encoder.acs_encoder_id },
      { waitForActionAttempt },
    )
  let attempt
  if (args.expect === 'success') {
    try {
      attempt = await encode()
    } catch (e) {
      if (e instanceof SeamActionAttemptFailedError) {
        throw new CheckError('encode', `action attempt failed with ${e.code}: ${e.message}; want success`)
      }
      if (e instanceof SeamActionAttemptTimeoutError) {
        throw new CheckError('encode', `${e.message}; the attempt is still ${e.actionAttempt?.status}`)
      }
      throw e
    }
    must('encode', attempt.status === 'success', `status ${attempt.status}, want success`)
    must('encode', attempt.action_type === 'ENCODE_CREDENTIAL', `action_type ${attempt.action_type}`)
    must('encode', attempt.result?.acs_credential_id === created.acs_credential_id, 'result is not the credential encoded')
  } else {
    const err = await expectThrows('encode', encode, SeamActionAttemptFailedError, args.expect)
    attempt = err.actionAttempt
    must('encode', attempt.status === 'error' && attempt.result === null, `attempt ${JSON.stringify(attempt)}`)
  }
  passed(`encode ${args.expect}`)

  const credential = await seam.acs.credentials.get({ acs_credential_id: created.acs_credential_id })
  if (args.expect === 'success') {
    must('credential', credential.is_issued === true, `is_issued ${credential.is_issued}, want true`)
    must('credential', credential.issued_at != null, 'issued_at is null after an encode')
    must('credential', credential.card_number != null, 'card_number is null after an encode')
    must('credential', !hasWarning(credential, 'waiting_to_be_issued'), 'still waiting_to_be_issued')
  } else {
    must('credential', credential.is_issued === false, `is_issued ${credential.is_issued} after a failed encode`)
  }
  passed('get credential')

  // A scan reads the card now on the encoder, writing nothing: the card
  // just written holds the credential; an empty reader holds nothing.
  const scan = () => seam.acs.encoders.scanCredential({ acs_encoder_id: encoder.acs_encoder_id }, { waitForActionAttempt })
  if (args.expect === 'success') {
    const scanned = await scan()
    must('scan', scanned.action_type === 'SCAN_CREDENTIAL' && scanned.status === 'success', `scan ended ${JSON.stringify(scanned)}`)
    const { acs_credential_on_encoder: onEncoder, acs_credential_on_seam: onSeam } = scanned.result
    must('scan', onEncoder?.card_number === credential.card_number && onEncoder?.is_issued === true,
      `acs_credential_on_encoder ${JSON.stringify(onEncoder)}; want card ${credential.card_number}, issued`)
    must('scan', onSeam?.acs_credential_id === created.acs_credential_id, `acs_credential_on_seam ${JSON.stringify(onSeam)}; want ${created.acs_credential_id}`)
    passed('scan')
  } else if (args.expect === 'no_credential_on_encoder' || args.expect === 'encoding_interrupted') {
    await expectThrows('scan', scan, SeamActionAttemptFailedError, 'no_credential_on_encoder')
    passed('scan')
  }

  const listed = await seam.actionAttempts.list({ action_attempt_ids: [attempt.action_attempt_id] })
  must('list action attempts', listed.length === 1 && listed[0].action_attempt_id === attempt.action_attempt_id && listed[0].status === attempt.status,
    `action_attempts/list gave ${JSON.stringify(listed)}`)
  passed('list action attempts')

  if (args.profile === 'latest') {
    // A failure only the latest profile has a word for, through the
    // sandbox control: the SDK reports it with its type as the code, and
    // the failed attempt matches Seam's schema (checkResponse).
    await seam.acs.encoders.simulate.nextCredentialEncodeWillFail({ acs_encoder_id: encoder.acs_encoder_id, error_code: 'encoding_interrupted' })
    await expectThrows('simulated encoding_interrupted', encode, SeamActionAttemptFailedError, 'encoding_interrupted')
    passed('simulate encoding_interrupted')

    // The scan's sandbox controls, each result checked against Seam's
    // SCAN_CREDENTIAL schema on its way in.
    const scanWith = async (scenario) => {
      await seam.acs.encoders.simulate.nextCredentialScanWillSucceed({ acs_encoder_id: encoder.acs_encoder_id, scenario })
      return seam.acs.encoders.scanCredential({ acs_encoder_id: encoder.acs_encoder_id }, { waitForActionAttempt })
    }
    const notOnSeam = await scanWith('credential_does_not_exist_on_seam')
    must('simulate scans', notOnSeam.result.acs_credential_on_seam === null &&
      notOnSeam.result.warnings.some((w) => w.warning_code === 'acs_credential_on_seam_not_found'), `credential_does_not_exist_on_seam: ${JSON.stringify(notOnSeam.result)}`)
    const empty = await scanWith('credential_on_encoder_is_empty')
    must('simulate scans', empty.result.acs_credential_on_encoder.is_issued === false, `credential_on_encoder_is_empty: ${JSON.stringify(empty.result)}`)
    await seam.acs.encoders.simulate.nextCredentialScanWillFail({ acs_encoder_id: encoder.acs_encoder_id, error_code: 'uncategorized_error' })
    await expectThrows('simulate scans',
      () => seam.acs.encoders.scanCredential({ acs_encoder_id: encoder.acs_encoder_id }, { waitForActionAttempt }),
      SeamActionAttemptFailedError, 'uncategorized_error')
    passed('simulate scans')
  }

  // Update: a new end of validity is kept; on the card just issued it
  // warns needs_to_be_reissued, since the card still holds the old one.
  const endsAt = new Date(Date.now() + 48 * 3600 * 1000).toISOString()
  if (args.expect === 'success') {
    await seam.acs.credentials.update({ acs_credential_id: created.acs_credential_id, ends_at: endsAt })
    const updated = await seam.acs.credentials.get({ acs_credential_id: created.acs_credential_id })
    must('update credential', Date.parse(updated.ends_at) === Date.parse(endsAt), `ends_at ${updated.ends_at}, want ${endsAt}`)
    must('update credential', hasWarning(updated, 'needs_to_be_reissued'), `an issued card's new ends_at gave warnings ${JSON.stringify(updated.warnings)}; want needs_to_be_reissued`)
  }

  // Delete: the credential is gone for every read.
  const doomed = await seam.acs.credentials.create({ acs_user_id: args.user, access_method: 'card' })
  await seam.acs.credentials.update({ acs_credential_id: doomed.acs_credential_id, ends_at: endsAt })
  const unissued = await seam.acs.credentials.get({ acs_credential_id: doomed.acs_credential_id })
  must('update credential', Date.parse(unissued.ends_at) === Date.parse(endsAt) && !hasWarning(unissued, 'needs_to_be_reissued'),
    `an unissued credential updated to ${endsAt}: ${JSON.stringify(unissued)}`)
  passed('update credential')
  await seam.acs.credentials.delete({ acs_credential_id: doomed.acs_credential_id })
  await expectThrows('delete credential', () => seam.acs.credentials.get({ acs_credential_id: doomed.acs_credential_id }),
    SeamHttpApiError, 'acs_credential_not_found', 404)
  const left = await seam.acs.credentials.list({ acs_user_id: args.user })
  must('delete credential', !left.some((c) => c.acs_credential_id === doomed.acs_credential_id), 'the list still has the deleted credential')
  passed('delete credential')

  // Events: the encode's success (if it succeeded) and the delete, each
  // also by its get.
  const events = await seam.events.list({ since: started })
  const about = (id, type) => events.find((e) => e.acs_credential_id === id && e.event_type === type)
  if (args.expect === 'success') {
    must('events', about(created.acs_credential_id, 'acs_credential.issued'), `no acs_credential.issued for ${created.acs_credential_id} among ${JSON.stringify(events)}`)
  } else {
    must('events', !events.some((e) => e.acs_credential_id === created.acs_credential_id && e.event_type !== 'acs_credential.deleted'),
      `a failed encode made events: ${JSON.stringify(events)}`)
  }
  const deleted = about(doomed.acs_credential_id, 'acs_credential.deleted')
  must('events', deleted, `no acs_credential.deleted for ${doomed.acs_credential_id} among ${JSON.stringify(events)}`)
  const back = await seam.events.get({ event_id: deleted.event_id })
  must('events', back.event_id === deleted.event_id, `events/get gave ${JSON.stringify(back)}`)
  passed('events')

  return {
    ok: true,
    sdk,
    encoder: { display_name: encoder.display_name, acs_encoder_id: encoder.acs_encoder_id },
    expect: args.expect,
    action_attempt: { action_attempt_id: attempt.action_attempt_id, status: attempt.status, error: attempt.error },
    acs_credential: {
      acs_credential_id: credential.acs_credential_id,
      is_issued: credential.is_issued,
      card_number: credential.card_number,
      issued_at: credential.issued_at,
    },
    checks,
    unknown_fields: sorted(unknownFields),
    spec_divergences: sorted(divergences),
  }
}

// withoutEncoder is the rest of the run for a workspace with no encoder
// (--encoder ""): a credential's life without an encode (create, get,
// list, delete and its event) and the refusals an encode gets.
const withoutEncoder = async (seam, args, started, checks, passed) => {
  const encoders = await seam.acs.encoders.list({ acs_system_ids: (await seam.acs.systems.list()).map((s) => s.acs_system_id) })
  must('list encoders', encoders.length === 0, `want no encoder, got ${JSON.stringify(encoders)}`)
  const created = await seam.acs.credentials.create({ acs_user_id: args.user, access_method: 'card' })
  const got = await seam.acs.credentials.get({ acs_credential_id: created.acs_credential_id })
  must('get credential', got.acs_credential_id === created.acs_credential_id, `got ${got.acs_credential_id}`)
  const listed = await seam.acs.credentials.list({ acs_user_id: args.user })
  must('list credentials', listed.some((c) => c.acs_credential_id === created.acs_credential_id), 'the new credential is not listed')
  passed('credential')
  const invalid = await expectThrows('malformed encoder id',
    () => seam.acs.encoders.encodeCredential({ acs_credential_id: created.acs_credential_id, acs_encoder_id: 'front-desk-1' }),
    SeamHttpInvalidInputError, 'invalid_input', 400)
  must('malformed encoder id', invalid.getValidationErrorMessages('acs_encoder_id').length > 0, 'validation_errors does not name acs_encoder_id')
  await expectThrows('encode on unknown encoder',
    () => seam.acs.encoders.encodeCredential({ acs_credential_id: created.acs_credential_id, acs_encoder_id: randomUUID() }),
    SeamHttpApiError, 'acs_encoder_not_found', 404)
  passed('encode refusals')
  await seam.acs.credentials.delete({ acs_credential_id: created.acs_credential_id })
  await expectThrows('delete credential', () => seam.acs.credentials.get({ acs_credential_id: created.acs_credential_id }),
    SeamHttpApiError, 'acs_credential_not_found', 404)
  const events = await seam.events.list({ since: started })
  must('events', events.length === 1 && events[0].event_type === 'acs_credential.deleted' && events[0].acs_credential_id === created.acs_credential_id,
    `events ${JSON.stringify(events)}; want the one deletion`)
  passed('events')
  return { ok: true, sdk, expect: 'none', checks, unknown_fields: sorted(unknownFields), spec_divergences: sorted(divergences) }
}

const sorted = (notes) => Object.fromEntries(Object.entries(notes).map(([k, v]) => [k, [...v].sort()]))

const parse = (argv) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      encoder: { type: 'string', default: 'front-desk-1' },
      user: { type: 'string', default: labGuest },
      expect: { type: 'string', default: 'success' },
      profile: { type: 'string', default: 'current' },
    },
    strict: true,
  })
  return values
}

try {
  const out = await run(parse(process.argv.slice(2)), process.env)
  process.stdout.write(JSON.stringify(out) + '\n')
} catch (e) {
  const error = {
    name: e?.name,
    message: e?.message ?? String(e),
    ...(e?.code !== undefined ? { code: e.code } : {}),
    ...(e?.statusCode !== undefined ? { status: e.statusCode } : {}),
    ...(e?.detail !== undefined ? { detail: e.detail } : {}),
  }
  process.stdout.write(JSON.stringify({ ok: false, sdk, error }) + '\n')
  process.stderr.write(`encode.mjs: Seam SDK @seamapi/http ${sdk['@seamapi/http']} against ${process.env.SEAM_ENDPOINT}: ${error.message}\n`)
  process.exitCode = 1
}
