// Package record holds what the SQL stores (sqlite and postgres) share
// about the records they keep, above their SQL: which attempts,
// credentials and leases they accept for writing, the JSON a credential is
// kept as (a credential's body, an attempt's Result) and how it is read
// back, how a query's rows become a list, and how an error names the
// record it concerns.
//
// It exists so that both stores refuse the same input with the same
// words and read back the same records; each store keeps its own SQL,
// its own representation of times and NULLs, and its own scanning of an
// attempt's columns. The checks return plain errors for the stores to
// wrap with their name and the operation, as in
//
//	sqlite: create attempt "att-1": status is "success"; a new attempt is "pending"
package record
