package intune

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// ReadableCADiff prepares two Conditional Access policy documents (backup payloads, or an
// inventory object) for FieldDiff so a diff reads as fields (issue #18): every id list becomes
// one field of sorted "name (id)" labels — named from either side's recorded references — instead
// of one leaf per array index, and the references block (now inline) is left out. Other documents
// are returned unchanged.
func ReadableCADiff(from, to json.RawMessage) (json.RawMessage, json.RawMessage) {
	a, errA := DecodeJSON(from)
	b, errB := DecodeJSON(to)
	am, okA := a.(map[string]any)
	bm, okB := b.(map[string]any)
	if errA != nil || errB != nil || !okA || !okB {
		return from, to
	}
	names := map[string]string{}
	for _, doc := range []map[string]any{am, bm} {
		refs, _ := doc["references"].(map[string]any)
		groups, _ := refs["groups"].(map[string]any)
		for id, n := range groups {
			if s, _ := n.(string); s != "" {
				names[id] = s
			}
		}
		objects, _ := refs["objects"].(map[string]any)
		for _, kind := range objects {
			byID, _ := kind.(map[string]any)
			for id, n := range byID {
				if s, _ := n.(map[string]any)["name"].(string); s != "" {
					names[id] = s
				}
			}
		}
	}
	return readableCA(am, names), readableCA(bm, names)
}

func readableCA(doc map[string]any, names map[string]string) json.RawMessage {
	obj := doc
	if o, ok := doc["object"].(map[string]any); ok {
		obj = o
		delete(doc, "references")
	}
	label := func(id string) string {
		if n := names[id]; n != "" {
			return fmt.Sprintf("%s (%s)", n, id)
		}
		return id
	}
	cond, _ := obj["conditions"].(map[string]any)
	for _, l := range caListRefs {
		sec, _ := cond[l.section].(map[string]any)
		list, ok := sec[l.key].([]any)
		if !ok {
			continue
		}
		labels := make([]string, 0, len(list))
		for _, v := range list {
			labels = append(labels, label(fmt.Sprint(v)))
		}
		sort.Strings(labels)
		sec[l.key] = strings.Join(labels, ", ")
	}
	grant, _ := obj["grantControls"].(map[string]any)
	if s, ok := grant["authenticationStrength"].(map[string]any); ok {
		if id, _ := s["id"].(string); id != "" {
			grant["authenticationStrength"] = label(id)
		}
	}
	out, _ := CanonicalJSON(doc)
	return out
}
