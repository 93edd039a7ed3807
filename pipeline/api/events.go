package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// Filters of /events/list that name things encoderd records no events
// about (devices, access codes, grants, entrances, …): given, they match
// nothing.
var foreignEventFilters = []string{
	"access_code_id", "access_code_ids", "access_grant_id", "access_grant_ids", "access_method_id", "access_method_ids",
	"acs_access_group_id", "acs_encoder_id", "acs_entrance_id", "acs_user_id", "connect_webview_id", "device_id", "device_ids",
	"space_id", "space_ids", "user_identity_id", "thermostat_schedule_id",
}

func (s *server) listEvents(ctx context.Context, rq request) (result, error) {
	p := rq.params
	var f store.EventFilter
	since, bySince := p.string("since")
	between, byBetween := p.stringList("between")
	if t, ok := p.string("event_type"); ok {
		f.Types = append(f.Types, t)
	}
	if ts, ok := p.stringList("event_types"); ok {
		f.Types = append(f.Types, ts...)
	}
	f.ACSCredentialID, _ = p.optionalUUID("acs_credential_id")
	f.ACSSystemID, _ = p.optionalUUID("acs_system_id")
	systems := p.uuidList("acs_system_ids")
	account, byAccount := p.optionalUUID("connected_account_id")
	f.Limit, _ = p.positiveInt("limit")
	foreign := false
	for _, name := range foreignEventFilters {
		if _, _, ok := p.lookup(name); ok {
			foreign = true
		}
	}
	switch {
	case bySince && byBetween:
		p.invalidWhole("give since or between, not both")
	case bySince:
		var err error
		if f.Since, err = time.Parse(time.RFC3339Nano, since); err != nil {
			p.invalid("since", "%q is not an ISO 8601 date and time", since)
		}
	case byBetween:
		if len(between) != 2 {
			p.invalid("between", "must hold two dates and times, the lower and the upper bound")
			break
		}
		lo, err1 := time.Parse(time.RFC3339Nano, between[0])
		hi, err2 := time.Parse(time.RFC3339Nano, between[1])
		if err1 != nil || err2 != nil {
			p.invalid("between", "%q is not two ISO 8601 dates and times", between)
			break
		}
		// Seam's interval is exclusive at both ends.
		f.Since, f.Until = lo.Add(time.Nanosecond), hi
	default:
		p.invalidWhole("give since or between: the events to list are bounded in time")
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	out := []*seam.Event{}
	if foreign || (byAccount && account != rq.ws.ConnectedAccountID) {
		return result{"events": out}, nil
	}
	es, err := s.store.ListEvents(ctx, rq.ws.ID, f)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	for _, e := range es {
		if systems != nil && !slices.Contains(systems, e.ACSSystemID) {
			continue
		}
		out = append(out, e)
	}
	return result{"events": out}, nil
}

func (s *server) getEvent(ctx context.Context, rq request) (result, error) {
	id := rq.params.requiredUUID("event_id")
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	e, err := s.store.GetEvent(ctx, rq.ws.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("event", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return result{"event": e}, nil
}

// stringList returns the list of strings name, and whether it was given.
func (p params) stringList(name string) ([]string, bool) {
	raw, q, ok := p.lookup(name)
	if !ok {
		return nil, false
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &q); err != nil {
			p.invalid(name, "must be a list of strings")
			return nil, false
		}
	}
	return q, true
}
