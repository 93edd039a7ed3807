// Package api serves the Seam-compatible HTTP API: encoding credentials
// onto cards, following action attempts, listing encoders, creating and
// reading credentials, and the sandbox controls that decide how the next
// encode ends.
//
// Every request goes through the same steps: it gets a fresh request id
// (the seam-request-id header of every answer, and request_id in error
// bodies), is matched to a route and method, authenticated, and its
// parameters are read. Read routes (…/get, …/list) take parameters from
// the query string on GET and from a JSON object body on POST; action
// routes are POST only. Unknown parameters are ignored so newer SDKs keep
// working. In a query string an empty value ("name=") stands for null or
// an empty list, as Seam's SDKs write them. List answers carry Seam's
// pagination object (has_next_page, next_page_cursor, next_page_url).
//
// Authentication follows Seam: an API key (seam_…) names its workspace;
// a personal access token (seam_at…) needs a seam-workspace header naming
// a workspace that lists it.
//
// Refusals travel in Seam's envelope, {"error": {"type", "message",
// "request_id"}, "ok": false}, with a matching status; bad input is a 4xx,
// never a 500. The encoding itself is not done here: Encoding (the
// attempt runner) and Encoders (the encoder registry) are interfaces this
// package consumes.
package api
