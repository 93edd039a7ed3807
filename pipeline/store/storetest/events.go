package storetest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

func newEvent(workspace, id, typ, system, credential string, when time.Time) *seam.Event {
	return &seam.Event{EventID: id, EventType: typ, WorkspaceID: workspace, CreatedAt: seam.At(when), OccurredAt: seam.At(when),
		ACSSystemID: system, ACSCredentialID: credential, ConnectedAccountID: "account-1", EventDescription: "described " + id}
}

// wantEvents checks that ListEvents(workspace, f) gives the events with
// those ids, in that order, each as it was recorded.
func (c *env) wantEvents(after, workspace string, f store.EventFilter, want ...*seam.Event) {
	c.t.Helper()
	got, err := c.s.ListEvents(c.ctx, workspace, f)
	if err != nil {
		c.t.Errorf("ListEvents(%q, %+v) after %s = %v", workspace, f, after, err)
		return
	}
	ids := func(es []*seam.Event) string {
		var out []string
		for _, e := range es {
			out = append(out, e.EventID)
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	if ids(got) != ids(want) {
		c.t.Errorf("ListEvents(%q, %+v) after %s = %s, want %s", workspace, f, after, ids(got), ids(want))
		return
	}
	for i := range got {
		if fmt.Sprintf("%+v", *got[i]) != fmt.Sprintf("%+v", *want[i]) {
			c.t.Errorf("ListEvents after %s: event %s reads %+v, want %+v", after, want[i].EventID, *got[i], *want[i])
		}
	}
}

// testEvents: the events of an outcome are recorded with it, and only
// with it; ListEvents filters and orders them; GetEvent finds each in
// its workspace only.
func testEvents(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	other := newCredential("ws-a", "cred-2", "sys-2", "user-1", at(0))
	c.putCredential(cred)
	c.putCredential(other)
	a1 := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	a2 := newAttempt("ws-a", "att-2", "enc-2", "cred-2", at(2))
	a3 := newAttempt("ws-a", "att-3", "enc-1", "cred-1", at(3))
	for _, a := range []*store.Attempt{a1, a2, a3} {
		c.createAttempt(a)
	}
	c.wantEvents("nothing happened", "ws-a", store.EventFilter{})

	e1 := newEvent("ws-a", "ev-1", seam.EventCredentialIssued, "sys-1", "cred-1", at(10))
	done := succeeded(a1, at(10), issued(cred, at(10)))
	done.Events = []*seam.Event{e1}
	c.finishAttempt(done, issued(cred, at(10)))
	c.wantEvents("a success with its event", "ws-a", store.EventFilter{}, e1)

	// A finish the store refuses (already finished) records nothing.
	again := succeeded(a1, at(11), issued(cred, at(11)))
	again.Events = []*seam.Event{newEvent("ws-a", "ev-dup", seam.EventCredentialReissued, "sys-1", "cred-1", at(11))}
	if err := c.s.FinishAttempt(c.ctx, again, issued(cred, at(11))); !errors.Is(err, store.ErrNotPending) {
		c.t.Errorf("a second Finish = %v, want ErrNotPending", err)
	}
	// An event the store cannot keep refuses the whole finish.
	bad := succeeded(a2, at(12), issued(other, at(12)))
	bad.Events = []*seam.Event{{EventType: seam.EventCredentialIssued, WorkspaceID: "ws-a"}}
	if err := c.s.FinishAttempt(c.ctx, bad, issued(other, at(12))); err == nil {
		c.t.Error("a Finish carrying an event without an id succeeded")
	}
	c.wantPending("a Finish refused for its event", a2, a3)

	e2 := newEvent("ws-a", "ev-2", seam.EventCredentialIssued, "sys-2", "cred-2", at(13))
	d2 := succeeded(a2, at(13), issued(other, at(13)))
	d2.Events = []*seam.Event{e2}
	c.finishAttempt(d2, issued(other, at(13)))
	e3 := newEvent("ws-a", "ev-3", seam.EventCredentialReissued, "sys-1", "cred-1", at(14))
	d3 := succeeded(a3, at(14), issued(cred, at(14)))
	d3.Events = []*seam.Event{e3}
	c.finishAttempt(d3, issued(cred, at(14)))
	e4 := newEvent("ws-a", "ev-4", seam.EventCredentialDeleted, "sys-2", "cred-2", at(15))
	if err := c.s.DeleteCredential(c.ctx, "ws-a", "cred-2", e4); err != nil {
		c.t.Fatalf("DeleteCredential with its event = %v", err)
	}
	if err := c.s.DeleteCredential(c.ctx, "ws-a", "cred-2", newEvent("ws-a", "ev-none", seam.EventCredentialDeleted, "sys-2", "cred-2", at(16))); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("a second delete = %v, want ErrNotFound", err)
	}

	c.wantEvents("four events", "ws-a", store.EventFilter{}, e1, e2, e3, e4)
	c.wantEvents("four events", "ws-a", store.EventFilter{Types: []string{seam.EventCredentialIssued}}, e1, e2)
	c.wantEvents("four events", "ws-a", store.EventFilter{Types: []string{seam.EventCredentialReissued, seam.EventCredentialDeleted}}, e3, e4)
	c.wantEvents("four events", "ws-a", store.EventFilter{ACSCredentialID: "cred-1"}, e1, e3)
	c.wantEvents("four events", "ws-a", store.EventFilter{ACSSystemID: "sys-2"}, e2, e4)
	c.wantEvents("four events", "ws-a", store.EventFilter{Since: at(13), Until: at(15)}, e2, e3)
	c.wantEvents("four events", "ws-a", store.EventFilter{Since: at(11), Limit: 2}, e2, e3)
	c.wantEvents("four events", "ws-b", store.EventFilter{})

	got, err := c.s.GetEvent(c.ctx, "ws-a", "ev-3")
	if err != nil || got.EventType != seam.EventCredentialReissued || got.ACSCredentialID != "cred-1" || !got.OccurredAt.Equal(at(14)) {
		c.t.Errorf("GetEvent(ev-3) = %+v, %v; want the reissue of cred-1", got, err)
	}
	for _, call := range [][2]string{{"ws-b", "ev-3"}, {"ws-a", "ev-dup"}, {"ws-a", "ev-none"}, {"ws-a", "never"}} {
		if _, err := c.s.GetEvent(c.ctx, call[0], call[1]); !errors.Is(err, store.ErrNotFound) {
			c.t.Errorf("GetEvent(%q, %q) = %v, want ErrNotFound", call[0], call[1], err)
		}
	}
}

// testWebhookDeliveries: a webhook is registered once; it is offered the
// workspace's events from its registration on, of its types, until it
// delivered or gave up on each.
func testWebhookDeliveries(c *env) {
	first, err := c.s.RegisterWebhook(c.ctx, "hook-1", at(5))
	if err != nil || !first.Equal(at(5)) {
		c.t.Fatalf("RegisterWebhook = %v, %v; want %v", first, err, at(5))
	}
	if again, err := c.s.RegisterWebhook(c.ctx, "hook-1", at(50)); err != nil || !again.Equal(at(5)) {
		c.t.Errorf("a second RegisterWebhook = %v, %v; want the first registration, %v", again, err, at(5))
	}
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	var events []*seam.Event
	for i, typ := range []string{seam.EventCredentialIssued, seam.EventCredentialReissued, seam.EventCredentialReissued} {
		a := newAttempt("ws-a", fmt.Sprintf("att-%d", i), "enc-1", "cred-1", at(i))
		c.createAttempt(a)
		e := newEvent("ws-a", fmt.Sprintf("ev-%d", i), typ, "sys-1", "cred-1", at(4+i)) // ev-0 before the registration
		d := succeeded(a, at(4+i), issued(cred, at(4+i)))
		d.Events = []*seam.Event{e}
		c.finishAttempt(d, issued(cred, at(4+i)))
		events = append(events, e)
	}
	undelivered := func(after string, types []string, want ...*seam.Event) {
		c.t.Helper()
		got, err := c.s.UndeliveredEvents(c.ctx, "ws-a", "hook-1", first, types, 0)
		if err != nil {
			c.t.Fatalf("UndeliveredEvents after %s = %v", after, err)
		}
		var g, w []string
		for _, e := range got {
			g = append(g, e.EventID)
		}
		for _, e := range want {
			w = append(w, e.EventID)
		}
		if strings.Join(g, " ") != strings.Join(w, " ") {
			c.t.Errorf("UndeliveredEvents after %s = %q, want %q", after, g, w)
		}
	}
	undelivered("three events, one before the registration", nil, events[1], events[2])
	undelivered("three events", []string{seam.EventCredentialIssued})
	if err := c.s.MarkDelivery(c.ctx, "hook-1", "ev-1", true, at(20)); err != nil {
		c.t.Fatal(err)
	}
	undelivered("ev-1 delivered", nil, events[2])
	if err := c.s.MarkDelivery(c.ctx, "hook-1", "ev-2", false, at(21)); err != nil {
		c.t.Fatal(err)
	}
	undelivered("ev-2 given up", nil)
	// Another webhook, and another workspace, have their own.
	if got, err := c.s.UndeliveredEvents(c.ctx, "ws-a", "hook-2", at(0), nil, 1); err != nil || len(got) != 1 || got[0].EventID != "ev-0" {
		c.t.Errorf("UndeliveredEvents of hook-2, limit 1 = %v, %v; want ev-0", got, err)
	}
	if got, err := c.s.UndeliveredEvents(c.ctx, "ws-b", "hook-1", at(0), nil, 0); err != nil || len(got) != 0 {
		c.t.Errorf("UndeliveredEvents of ws-b = %v, %v; want none", got, err)
	}
	if err := c.s.MarkDelivery(c.ctx, "", "ev-1", true, at(22)); err == nil {
		c.t.Error("MarkDelivery without a webhook id succeeded")
	}
}

// testScanAttempts: a scan is stored beside encodes, with its action
// type, and its result read back as it was finished.
func testScanAttempts(c *env) {
	scan := newAttempt("ws-a", "scan-1", "enc-1", "", at(1))
	scan.ActionType = seam.ActionTypeScanCredential
	enc := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(2))
	c.createAttempt(scan)
	c.createAttempt(enc)
	c.wantPending("a scan and an encode", scan, enc)
	for _, a := range []*store.Attempt{scan, enc} {
		got, err := c.s.GetAttempt(c.ctx, "ws-a", a.ID)
		if err != nil || got.ActionType != a.ActionType {
			c.t.Errorf("GetAttempt(%s).ActionType = %q, %v; want %q", a.ID, got.ActionType, err, a.ActionType)
		}
	}
	number, issued := "04A1B2C3", true
	result := &seam.ScanResult{
		ACSCredentialOnEncoder: &seam.CredentialOnEncoder{CardNumber: &number, IsIssued: &issued},
		Warnings:               []seam.ScanWarning{{WarningCode: seam.WarnCredentialOnSeamNotFound, WarningMessage: "not here"}},
	}
	done := *scan
	done.Status, done.FinishedAt, done.Scan = seam.StatusSuccess, at(3), result
	c.finishAttempt(&done, nil)
	got, err := c.s.GetAttempt(c.ctx, "ws-a", "scan-1")
	if err != nil {
		c.t.Fatal(err)
	}
	if got.Status != seam.StatusSuccess || got.Result != nil || got.Scan == nil || got.ActionType != seam.ActionTypeScanCredential ||
		*got.Scan.ACSCredentialOnEncoder.CardNumber != number || len(got.Scan.Warnings) != 1 || got.Scan.Warnings[0].WarningCode != seam.WarnCredentialOnSeamNotFound {
		c.t.Errorf("the finished scan reads %+v (scan %+v); want its result as finished", got, got.Scan)
	}
}
