// Package seam holds the API's resource types (action attempts, ACS
// credentials, encoders) and error types as they travel on the wire,
// following the field presence rules of Seam's published types: a field
// that does not apply is omitted, a nullable field is present as null, and
// lists are never null.
package seam
