package api

import (
	"context"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// The directory: the ACS systems and users of a workspace, as the lab
// defines them. A client needs their ids to create a credential
// (acs_user_id) and to list a system's encoders (acs_system_id); Seam
// serves them at /acs/systems/* and /acs/users/*.

func (s *server) listSystems(_ context.Context, rq request) (result, error) {
	p := rq.params
	account, byAccount := p.optionalUUID("connected_account_id")
	search, searching := p.string("search")
	_, _ = p.string("customer_key") // one customer per lab: every system is the customer's
	if searching && search == "" {
		p.invalid("search", "must not be empty")
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	out := []seam.System{}
	for _, sys := range rq.ws.Systems {
		if byAccount && account != rq.ws.ConnectedAccountID {
			continue
		}
		if searching && !matches(search, sys.Name, sys.ID) {
			continue
		}
		out = append(out, s.systemOut(rq.ws, sys))
	}
	return result{"acs_systems": out}, nil
}

func (s *server) getSystem(_ context.Context, rq request) (result, error) {
	id := rq.params.requiredUUID("acs_system_id")
	if err := rq.params.problems(); err != nil {
		return nil, err
	}
	sys := rq.ws.SystemByID(id)
	if sys == nil {
		return nil, seam.NotFound("acs_system", id)
	}
	return result{"acs_system": s.systemOut(rq.ws, sys)}, nil
}

func (s *server) listUsers(_ context.Context, rq request) (result, error) {
	p := rq.params
	systemID, bySystem := p.optionalUUID("acs_system_id")
	search, searching := p.string("search")
	before, byTime := p.string("created_before")
	// No lab user has a user identity: a filter by one matches nobody.
	_, byIdentity := p.optionalUUID("user_identity_id")
	_, byEmail := p.string("user_identity_email_address")
	_, byPhone := p.string("user_identity_phone_number")
	pg := p.page()
	if searching && search == "" {
		p.invalid("search", "must not be empty")
	}
	var cutoff time.Time
	if byTime {
		var err error
		if cutoff, err = time.Parse(time.RFC3339Nano, before); err != nil {
			p.invalid("created_before", "%q is not an ISO 8601 date and time", before)
		}
	}
	if err := p.problems(); err != nil {
		return nil, err
	}
	users := []seam.User{}
	if !byIdentity && !byEmail && !byPhone && (!byTime || s.started.Before(cutoff)) {
		for _, sys := range rq.ws.Systems {
			if bySystem && sys.ID != systemID {
				continue
			}
			for _, u := range sys.Users {
				if searching && !matches(search, u.FullName, u.ID) {
					continue
				}
				users = append(users, s.userOut(rq.ws, sys, u))
			}
		}
	}
	out, next, err := paginate(users, func(u seam.User) string { return u.ACSUserID }, pg)
	if err != nil {
		return nil, err
	}
	return result{"acs_users": out, "pagination": next}, nil
}

func (s *server) getUser(_ context.Context, rq request) (result, error) {
	p := rq.params
	id := p.requiredUUID("acs_user_id")
	systemID, bySystem := p.optionalUUID("acs_system_id")
	if err := p.problems(); err != nil {
		return nil, err
	}
	sys, u := rq.ws.UserByID(id)
	if u == nil || (bySystem && sys.ID != systemID) {
		return nil, seam.NotFound("acs_user", id)
	}
	return result{"acs_user": s.userOut(rq.ws, sys, u)}, nil
}

// matches is Seam's search: a case-insensitive partial match on any of
// the fields.
func matches(search string, fields ...string) bool {
	q := strings.ToLower(search)
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

func (s *server) systemOut(ws *fixtures.Workspace, sys *fixtures.System) seam.System {
	typ, display := seam.SystemType(sys.ExternalType)
	return seam.System{
		ACSSystemID:             sys.ID,
		Name:                    sys.Name,
		ExternalType:            typ,
		ExternalTypeDisplayName: display,
		WorkspaceID:             ws.ID,
		ConnectedAccountID:      ws.ConnectedAccountID,
		ConnectedAccountIDs:     []string{ws.ConnectedAccountID},
		CreatedAt:               seam.At(s.started),
		Location:                seam.Location{},
		ACSUserCount:            len(sys.Users),
		Errors:                  []any{},
		Warnings:                []any{},
	}
}

func (s *server) userOut(ws *fixtures.Workspace, sys *fixtures.System, u *fixtures.User) seam.User {
	return seam.User{
		ACSUserID:          u.ID,
		ACSSystemID:        sys.ID,
		WorkspaceID:        ws.ID,
		ConnectedAccountID: ws.ConnectedAccountID,
		CreatedAt:          seam.At(s.started),
		DisplayName:        u.FullName,
		FullName:           u.FullName,
		IsManaged:          true,
		Errors:             []any{},
		Warnings:           []any{},
		PendingMutations:   []any{},
	}
}
