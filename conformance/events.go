package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// eventProblems checks the events the server recorded of the scenario's
// credential against what the suite saw happen (@seamapi/types: the
// credential events): one acs_credential.issued for the first encode
// that succeeded, one acs_credential.reissued for each later success,
// none for a failure, and acs_credential.deleted when the timeline
// deleted the credential; each naming the lab's workspace and system,
// and occurring within the run.
func eventProblems(rec *recording) []string {
	where := rec.sc.File
	if rec.eventsRead == nil {
		return []string{where + ": the events of the credential were not read (no credential, or the server did not answer)"}
	}
	if rec.eventsRead.Status != 200 {
		return []string{fmt.Sprintf("%s: %s: want HTTP 200 with the credential's events", where, rec.eventsRead)}
	}
	var want []string
	for _, er := range rec.encodes {
		if er.final == nil || er.final["status"] != "success" {
			continue
		}
		if len(want) == 0 {
			want = append(want, "acs_credential.issued")
		} else {
			want = append(want, "acs_credential.reissued")
		}
	}
	if rec.sc.DeletesCredential() {
		want = append(want, "acs_credential.deleted")
	}
	var got []string
	var problems []string
	id, _ := rec.credential["acs_credential_id"].(string)
	for _, e := range rec.events {
		typ, _ := e["event_type"].(string)
		got = append(got, typ)
		for k, v := range map[string]string{"workspace_id": rec.ws.ID, "acs_system_id": rec.sys.ID, "acs_credential_id": id} {
			if e[k] != v {
				problems = append(problems, fmt.Sprintf("%s: event %v (%s): %s is %v, want %s", where, e["event_id"], typ, k, e[k], v))
			}
		}
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e["occurred_at"]))
		if err != nil || at.Before(rec.started.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
			problems = append(problems, fmt.Sprintf("%s: event %v (%s): occurred_at %v is not within the run", where, e["event_id"], typ, e["occurred_at"]))
		}
	}
	if !slices.Equal(got, want) {
		problems = append(problems, fmt.Sprintf("%s: the credential's events are [%s]; the run's outcomes make [%s]",
			where, strings.Join(got, ", "), strings.Join(want, ", ")))
	}
	return problems
}
