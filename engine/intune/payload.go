package intune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// NoFilterID is the assignment filter id Graph uses for "no filter".
const NoFilterID = "00000000-0000-0000-0000-000000000000"

// Payload is what a backup item holds (backup writes it, restore and drift read it): the normalized object, its expanded children, its
// assignments and the names of what the assignments and scope tags reference
// (docs/graph.md#intune-families). Sub-collections are always read to the end.
type Payload struct {
	Object           map[string]any `json:"object"`
	Settings         []any          `json:"settings,omitempty"`
	ScheduledActions []any          `json:"scheduledActionsForRule,omitempty"`
	DefinitionValues []any          `json:"definitionValues,omitempty"`
	Assignments      []any          `json:"assignments,omitempty"`
	References       *References    `json:"references,omitempty"`
}

// References names the groups, filters and scope tags a payload refers to, by id, and the other
// objects of its tenant the object holds ids of (descriptor References: mobile apps, notification
// templates, compliance scripts), by kind and id, with their type where it is part of the match.
//
// Groups maps a group id to its name, "" for a group the backup found deleted (Graph answered 404 or
// left it out). A group the backup could not name at all is "" in Groups too and is listed in
// UnnamedGroups with why (provider_permission_denied: the app lacked Group.Read.All), so that a
// restore never takes it for a deleted one.
type References struct {
	Groups        map[string]string               `json:"groups,omitempty"`
	UnnamedGroups map[string]reason.Code          `json:"unnamedGroups,omitempty"`
	Filters       map[string]string               `json:"filters,omitempty"`
	ScopeTags     map[string]string               `json:"scopeTags,omitempty"`
	Objects       map[RefKind]map[string]NamedRef `json:"objects,omitempty"`
}

// NamedRef is the source name (and @odata.type, for mobile apps) of a referenced object.
type NamedRef struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// Group returns the recorded name of group id ("" when deleted or unnamed) and, for a group the
// backup could not name, why not.
func (r *References) Group(id string) (name string, unnamed reason.Code) {
	if r == nil {
		return "", ""
	}
	return r.Groups[id], r.UnnamedGroups[id]
}

// Object returns the recorded name of a referenced object ("" when not recorded).
func (r *References) Object(kind RefKind, id string) NamedRef {
	if r == nil {
		return NamedRef{}
	}
	return r.Objects[kind][id]
}

// DecodePayload parses a stored backup payload, keeping numbers exact.
func DecodePayload(raw json.RawMessage) (Payload, error) {
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("error decoding backup payload: %w", err)
	}
	if p.Object == nil {
		p.Object = map[string]any{}
	}
	return p, nil
}

// HasSecretReference reports a non-null secretReferenceValueId anywhere: an encrypted value whose
// plaintext the backup could not read.
func HasSecretReference(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "secretReferenceValueId" && val != nil && val != "" {
				return true
			}
			if HasSecretReference(val) {
				return true
			}
		}
	case []any:
		for _, val := range x {
			if HasSecretReference(val) {
				return true
			}
		}
	}
	return false
}

// DisplayName is an object's name: its family's name property, else displayName or name.
func DisplayName(fi graph.FamilyInfo, obj map[string]any) string {
	for _, k := range []string{fi.NameProperty, "displayName", "name"} {
		if s, ok := obj[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// ParseFamilies validates a list of Intune family names (empty: every family). Its error names the
// known families; the engine wraps it as an invalid request.
func ParseFamilies(names []string) ([]graph.Family, error) {
	if len(names) == 0 {
		return graph.IntuneFamilies(), nil
	}
	all := graph.IntuneFamilies()
	var out []graph.Family
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		f := graph.Family(n)
		if !slices.Contains(all, f) {
			var known []string
			for _, a := range all {
				known = append(known, string(a))
			}
			return nil, fmt.Errorf("unknown family %q (expected one of %s)", n, strings.Join(known, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return graph.IntuneFamilies(), nil
	}
	return out, nil
}
