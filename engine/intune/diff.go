package intune

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Redacted replaces every value of a backup item that holds decrypted secrets, in every view and
// output. Nothing in the Service API returns such a value.
const Redacted = "[redacted: sensitive]"

// maxFieldChanges bounds the field-level diff of one item.
const maxFieldChanges = 200

// FieldChange is one changed leaf, by JSON path ("object.passwordMinimumLength",
// "assignments[0].target.groupId"). From/To are JSON text; absent sides are empty.
type FieldChange struct {
	Path string `json:"path"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// FieldDiff compares two JSON documents leaf by leaf. A sensitive item's values are Redacted; past
// maxFieldChanges the list stops and the second result is true.
func FieldDiff(from, to json.RawMessage, sensitive bool) ([]FieldChange, bool) {
	a, b := map[string]string{}, map[string]string{}
	if v, err := DecodeJSON(from); err == nil {
		flatten("", v, a)
	}
	if v, err := DecodeJSON(to); err == nil {
		flatten("", v, b)
	}
	paths := map[string]bool{}
	for p := range a {
		paths[p] = true
	}
	for p := range b {
		paths[p] = true
	}
	keys := slices.Sorted(maps.Keys(paths))
	out := []FieldChange{}
	for _, p := range keys {
		x, inA := a[p]
		y, inB := b[p]
		if inA && inB && x == y {
			continue
		}
		if len(out) >= maxFieldChanges {
			return out, true
		}
		if sensitive {
			if inA {
				x = strconv.Quote(Redacted)
			}
			if inB {
				y = strconv.Quote(Redacted)
			}
		}
		out = append(out, FieldChange{Path: p, From: x, To: y})
	}
	return out, false
}

// flatten writes every leaf of v under its path. Empty objects and arrays are leaves too.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && prefix != "" {
			out[prefix] = "{}"
		}
		for k, val := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, val, out)
		}
	case []any:
		if len(x) == 0 {
			out[prefix] = "[]"
		}
		for i, val := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), val, out)
		}
	default:
		b, _ := CanonicalJSON(x)
		out[prefix] = strings.TrimSpace(string(b))
	}
}

// EncryptedSettings returns the indexes of an object's encrypted OMA-URI settings.
func EncryptedSettings(obj any) []int {
	m, _ := obj.(map[string]any)
	list, _ := m["omaSettings"].([]any)
	var out []int
	for i, s := range list {
		if sm, ok := s.(map[string]any); ok && sm["isEncrypted"] == true {
			out = append(out, i)
		}
	}
	return out
}

// MaskSecrets drops the secret fields of the OMA-URI settings at idx.
func MaskSecrets(obj any, idx []int) {
	m, _ := obj.(map[string]any)
	list, _ := m["omaSettings"].([]any)
	for _, i := range idx {
		if i < len(list) {
			if sm, ok := list[i].(map[string]any); ok {
				delete(sm, "value")
				delete(sm, "isEncrypted")
				delete(sm, "secretReferenceValueId")
			}
		}
	}
}
