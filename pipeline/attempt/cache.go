package attempt

import (
	"encoding/json"
	"sync"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// cacheSize bounds the attempts kept in memory: at thousands of encodes a
// second, a few seconds' worth, which is how long clients poll one.
const cacheSize = 16384

// attemptCache keeps recent attempts in memory so that clients polling
// action_attempts/get do not each cost a database read. It only ever
// holds what the store has committed: entries are put after the store
// call that made them true returned. A terminal attempt never changes, so
// it is always safe to keep; a pending one only when this service is the
// store's only writer (not shared), because then no one else can finish
// it behind the cache's back.
type attemptCache struct {
	keepPending bool

	mu    sync.Mutex
	byID  map[string]*store.Attempt
	order []string // ring of ids, oldest first once full
	next  int
}

func newAttemptCache(keepPending bool) *attemptCache {
	return &attemptCache{keepPending: keepPending, byID: make(map[string]*store.Attempt, cacheSize)}
}

// put remembers a (a copy) if it may be kept.
func (c *attemptCache) put(a *store.Attempt) {
	if a.Status == seam.StatusPending && !c.keepPending {
		return
	}
	cp := *a
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byID[a.ID]; ok {
		// A terminal attempt never changes. A pending copy coming after
		// one is a read that began before the outcome was recorded and
		// ended after: kept, it would answer pending for ever.
		if old.Status != seam.StatusPending {
			return
		}
		c.byID[a.ID] = &cp
		return
	}
	if len(c.order) < cacheSize {
		c.order = append(c.order, a.ID)
	} else {
		delete(c.byID, c.order[c.next])
		c.order[c.next] = a.ID
		c.next = (c.next + 1) % cacheSize
	}
	c.byID[a.ID] = &cp
}

// get returns a copy of the attempt with that id in that workspace, if
// kept.
func (c *attemptCache) get(workspaceID, id string) (*store.Attempt, bool) {
	c.mu.Lock()
	a, ok := c.byID[id]
	c.mu.Unlock()
	if !ok || a.WorkspaceID != workspaceID {
		return nil, false
	}
	cp := *a
	return &cp, true
}

// drop forgets an attempt whose cached state may be stale.
func (c *attemptCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The ring keeps the id; its slot is reused in turn.
	delete(c.byID, id)
}

// credentialCache keeps the credentials encodes read, as JSON so every
// read decodes a copy of its own. It is used only when the service is the
// store's only writer: the API creates credentials with new ids and never
// changes one, and every later change is an encode's outcome, which the
// service records itself and puts here once the store has committed it.
type credentialCache struct {
	mu    sync.Mutex
	byID  map[string]cachedCredential
	order []string
	next  int
}

type cachedCredential struct {
	workspace string
	body      []byte
}

func newCredentialCache() *credentialCache {
	return &credentialCache{byID: make(map[string]cachedCredential, cacheSize)}
}

// put keeps cred, the credential as an outcome the store has committed
// left it: the newest there is.
func (c *credentialCache) put(cred *seam.Credential) { c.keep(cred, true) }

// putRead keeps cred as a store read returned it, unless the cache has
// the credential already: a read that began before an outcome was
// committed may end after that outcome's put, and its older copy must
// not replace the newer one (a second encode of a credential that
// refuses reissue would read it not issued).
func (c *credentialCache) putRead(cred *seam.Credential) { c.keep(cred, false) }

func (c *credentialCache) keep(cred *seam.Credential, replace bool) {
	body, err := json.Marshal(cred)
	if err != nil {
		return // not kept; the store is read instead
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := cred.ACSCredentialID
	if _, ok := c.byID[id]; ok && !replace {
		return
	}
	if _, ok := c.byID[id]; !ok {
		if len(c.order) < cacheSize {
			c.order = append(c.order, id)
		} else {
			delete(c.byID, c.order[c.next])
			c.order[c.next] = id
			c.next = (c.next + 1) % cacheSize
		}
	}
	c.byID[id] = cachedCredential{workspace: cred.WorkspaceID, body: body}
}

func (c *credentialCache) get(workspaceID, id string) (*seam.Credential, bool) {
	c.mu.Lock()
	e, ok := c.byID[id]
	c.mu.Unlock()
	if !ok || e.workspace != workspaceID {
		return nil, false
	}
	var cred seam.Credential
	if err := json.Unmarshal(e.body, &cred); err != nil {
		return nil, false
	}
	return &cred, true
}
