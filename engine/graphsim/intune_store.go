package graphsim

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// The Intune object store: one tenant's objects per family, each with its navigation
// collections kept apart from the entity (Graph returns them only through their own endpoint or
// $expand).

const (
	intunePageDefault = 100
	intunePageMax     = 1000
	subPageSize       = 25 // sub-collections (assignments, settings, ...) page at 25, like Intune
	// expandedSettingsPage is the page of configurationPolicies?$expand=settings (intune_http.go).
	expandedSettingsPage = 2
	bigSubCollection     = 30 // the first object of a family has more than one page of assignments
)

// ErrNoSuchPolicy is returned by the policy mutation API for an unknown id.
var ErrNoSuchPolicy = errors.New("graphsim: no such policy")

type intuneObject struct {
	// obj is the entity as stored: every structural property, @odata.type always set (the wire
	// form drops it where minimal metadata does), lazy properties filled.
	obj         map[string]any
	assignments []map[string]any
	// children are navigation collections: "settings" (settings catalog, intents),
	// "scheduledActionsForRule" (each rule keeps its scheduledActionConfigurations inline),
	// "definitionValues" (each keeps its definition inline), "apps" (managedMobileApp).
	children map[string][]map[string]any
	// presentation holds the presentationValues of each definitionValue id (each keeps its
	// presentation inline).
	presentation map[string][]map[string]any
}

func newObject(o map[string]any) *intuneObject {
	return &intuneObject{obj: o, children: map[string][]map[string]any{}, presentation: map[string][]map[string]any{}}
}

func (o *intuneObject) id() string  { return fmt.Sprint(o.obj["id"]) }
func (o *intuneObject) typ() string { s, _ := o.obj["@odata.type"].(string); return s }

type intuneStore struct {
	mu     sync.RWMutex
	tenant *Tenant
	seq    int
	fam    map[graph.Family][]*intuneObject
	// admx is the tenant's ADMX definition catalog: Microsoft's built-in definitions (the same ids
	// in every tenant) and the tenant's custom, uploaded ones (ids of its own).
	admx map[string]admxDefinition
}

// admxDefinition is one groupPolicyDefinition with its one presentation.
type admxDefinition struct {
	def  map[string]any
	pres map[string]any
}

func newIntuneStore(t *Tenant, per int, counts map[graph.Family]int) *intuneStore {
	st := &intuneStore{tenant: t, fam: map[graph.Family][]*intuneObject{}, admx: map[string]admxDefinition{}}
	st.generate(per, counts)
	return st
}

func (st *intuneStore) newID(parts ...any) string {
	st.seq++
	return deterministicUUID(append([]any{"intune", st.tenant.ID, st.seq}, parts...)...)
}

var epoch = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func stamp(i int) string {
	return epoch.Add(time.Duration(i) * 37 * time.Hour).Format("2006-01-02T15:04:05.0000000Z")
}

func nowStamp() string { return time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z") }

func (st *intuneStore) find(f graph.Family, id string) *intuneObject {
	for _, o := range st.fam[f] {
		if strings.EqualFold(o.id(), id) {
			return o
		}
	}
	return nil
}

// inCollection returns the objects a collection shows, in store order.
func (st *intuneStore) inCollection(c *collectionSpec) []*intuneObject {
	var out []*intuneObject
	for _, f := range c.pools {
		for _, o := range st.fam[f] {
			if c.accepts(o.typ()) {
				out = append(out, o)
			}
		}
	}
	return out
}

// findIn finds an object by id among those a collection shows.
func (st *intuneStore) findIn(c *collectionSpec, id string) *intuneObject {
	for _, o := range st.inCollection(c) {
		if strings.EqualFold(o.id(), id) {
			return o
		}
	}
	return nil
}

func touch(o map[string]any) {
	o["lastModifiedDateTime"] = nowStamp()
	if v, ok := o["version"].(int); ok {
		o["version"] = v + 1
	}
}

// assignment builds a stored assignment entity for a target; extra holds the family's other
// assignment properties (runSchedule, intent, …).
func assignment(policyID string, target map[string]any, extra map[string]any) map[string]any {
	key, _ := target["groupId"].(string)
	if key == "" {
		key = strings.TrimPrefix(fmt.Sprint(target["@odata.type"]), graphNS)
	}
	a := map[string]any{"id": policyID + "_" + key, "source": "direct", "sourceId": policyID, "target": target}
	for k, v := range extra {
		a[k] = v
	}
	return a
}
