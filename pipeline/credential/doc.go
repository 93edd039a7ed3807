// Package credential holds the rules for making and issuing ACS
// credentials, apart from HTTP: which fields a new credential carries for
// its access method and its system's external type, what a successful
// encode changes, and how a credential becomes the Job a driver writes.
//
// Field presence follows Seam's published types: a field that does not
// apply is omitted, the nullable ones (code, card_number, issued_at, the
// sync state) are present as null until they have a value, and the
// errors and warnings lists are never null.
//
// A card credential starts unissued with a waiting_to_be_issued warning.
// Issue turns it into the credential as it is once a card holds it. The
// lock system knows the card by CardID, which is derived from the
// credential id so that every encode of one credential writes the same id.
package credential
