package intune

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Normalization makes identical configuration hash identically (docs/graph.md#strip-before-write, peer
// pain point "no false drift"): volatile, server-maintained fields are stripped at every depth,
// object keys are sorted (encoding/json sorts map keys) and collections whose order Graph does not
// guarantee (assignments) are sorted by content. Numbers keep their exact text.

// volatileKeys are dropped wherever they appear.
var volatileKeys = map[string]bool{
	"lastModifiedDateTime": true,
	"modifiedDateTime":     true,
	"@odata.context":       true,
	"@odata.id":            true,
	"@odata.etag":          true,
	"@odata.nextLink":      true,
	"@odata.count":         true,
	"lastSyncDateTime":     true,
}

// topVolatileKeys are dropped at the top of a policy object only: there they are server counters
// or derived values; deeper down the same names can be configuration.
var topVolatileKeys = map[string]bool{
	"id":                true, // kept on the backup item row; a copy in another tenant is the same configuration
	"version":           true,
	"createdDateTime":   true,
	"settingCount":      true,
	"isAssigned":        true,
	"deployedAppCount":  true,
	"supportsScopeTags": true,
}

// assignmentVolatileKeys are dropped from each assignment: ids derived from the policy id.
var assignmentVolatileKeys = map[string]bool{"id": true, "sourceId": true}

// DecodeJSON parses JSON keeping numbers exact.
func DecodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// StripVolatile removes volatile keys recursively (in place) and returns v.
func StripVolatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if volatileKeys[k] || strings.HasSuffix(k, "@odata.context") || strings.HasSuffix(k, "@odata.nextLink") ||
				strings.HasSuffix(k, "@odata.navigationLink") || strings.HasSuffix(k, "@odata.associationLink") {
				delete(x, k)
				continue
			}
			x[k] = StripVolatile(val)
		}
	case []any:
		for i := range x {
			x[i] = StripVolatile(x[i])
		}
	}
	return v
}

// StripKeyDeep removes key at every depth of v (in place).
func StripKeyDeep(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, key)
		for _, val := range x {
			StripKeyDeep(val, key)
		}
	case []any:
		for _, val := range x {
			StripKeyDeep(val, key)
		}
	}
}

// NormalizeObject normalizes a policy object (map) in place.
func NormalizeObject(obj map[string]any) map[string]any {
	for k := range topVolatileKeys {
		delete(obj, k)
	}
	StripVolatile(obj)
	return obj
}

// NormalizeFor normalizes an object of family f in place: NormalizeObject plus the family's
// volatile keys (its descriptor), so drift never reports what the service maintains.
func NormalizeFor(f graph.Family, obj map[string]any) map[string]any {
	if d := DescriptorOf(f); d != nil {
		for _, k := range d.Volatile {
			delete(obj, k)
		}
		for _, ref := range d.References {
			// An expanded navigation kept as the reference it is (a role assignment's role
			// definition): its identity only, so drift reports a change of role, not of the role.
			if nav, ok := obj[ref.Where].(map[string]any); ok && ref.Kind == RefRoleDefinition {
				kept := map[string]any{}
				for _, k := range []string{"id", "displayName", "isBuiltIn"} {
					if v, ok := nav[k]; ok {
						kept[k] = v
					}
				}
				obj[ref.Where] = kept
			}
		}
		for _, k := range d.ChildIDs {
			list, _ := obj[k].([]any)
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					delete(m, "id")
				}
			}
		}
	}
	return NormalizeObject(obj)
}

// NormalizeAssignments strips per-assignment ids and sorts by canonical JSON.
func NormalizeAssignments(list []any) []any {
	for _, a := range list {
		if m, ok := a.(map[string]any); ok {
			for k := range assignmentVolatileKeys {
				delete(m, k)
			}
			StripVolatile(m)
		}
	}
	sortByCanonical(list)
	return list
}

// sortByCanonical orders a list by the canonical JSON of its elements.
func sortByCanonical(list []any) {
	keys := make([]string, len(list))
	for i, v := range list {
		b, _ := CanonicalJSON(v)
		keys[i] = string(b)
	}
	idx := make([]int, len(list))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	sorted := make([]any, len(list))
	for i, j := range idx {
		sorted[i] = list[j]
	}
	copy(list, sorted)
}

// CanonicalJSON encodes v with sorted keys, no HTML escaping and no trailing newline.
func CanonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("error encoding canonical JSON: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// HashCanonical returns the canonical JSON of v and its sha256 (hex).
func HashCanonical(v any) ([]byte, string, error) {
	b, err := CanonicalJSON(v)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}
