package intune

import (
	"fmt"
	"strings"
)

// RefVisit is called for each id a VisitReferences callback sees; it answers the id to write instead and
// whether to keep it at all (false: left out of the write).
type RefVisit func(ref Reference, id string) (newID string, keep bool)

// VisitReferences walks the ids of other objects of the tenant that obj (and its compliance rules)
// hold, per the descriptor's References (mobile apps, notification templates, compliance
// scripts; scope tags and ADMX definitions are handled on their own), and rewrites each with what
// visit answers: a list drops the ids not kept, a notification template not kept (compliance
// action or enrollment notification) becomes the zero GUID (no template), a compliance script not kept removes deviceCompliancePolicyScript.
func (d *Descriptor) VisitReferences(obj map[string]any, rules []any, visit RefVisit) {
	for _, ref := range d.References {
		switch ref.Kind {
		case RefMobileApp:
			key := strings.TrimSuffix(ref.Where, "[]")
			ids, ok := obj[key].([]any)
			if !ok {
				continue
			}
			out := []any{}
			for _, id := range ids {
				if n, keep := visit(ref, fmt.Sprint(id)); keep {
					out = append(out, n)
				}
			}
			obj[key] = out
		case RefNotificationTemplate:
			if !strings.HasPrefix(ref.Where, "scheduledActionsForRule") { // a property of the object (enrollment notifications)
				if id, _ := obj[ref.Where].(string); id != "" && id != NoFilterID {
					if n, keep := visit(ref, id); keep {
						obj[ref.Where] = n
					} else {
						obj[ref.Where] = NoFilterID
					}
				}
				continue
			}
			for _, rule := range rules {
				r, _ := rule.(map[string]any)
				acts, _ := r["scheduledActionConfigurations"].([]any)
				for _, a := range acts {
					m, _ := a.(map[string]any)
					if id, _ := m["notificationTemplateId"].(string); id != "" && id != NoFilterID {
						if n, keep := visit(ref, id); keep {
							m["notificationTemplateId"] = n
						} else {
							m["notificationTemplateId"] = NoFilterID // the zero GUID: no template
						}
					}
				}
			}
		case RefComplianceScript:
			script, _ := obj["deviceCompliancePolicyScript"].(map[string]any)
			if id, _ := script["deviceComplianceScriptId"].(string); id != "" {
				if n, keep := visit(ref, id); keep {
					script["deviceComplianceScriptId"] = n
				} else {
					delete(obj, "deviceCompliancePolicyScript")
				}
			}
		}
	}
}

// CCGroups returns the group ids compliance actions send notification copies to
// (scheduledActionConfigurations[].notificationMessageCCList, CSDL10 deviceComplianceActionItem):
// groups of the tenant, mapped like assignment groups.
func CCGroups(rules []any) []string {
	var out []string
	for _, rule := range rules {
		r, _ := rule.(map[string]any)
		acts, _ := r["scheduledActionConfigurations"].([]any)
		for _, a := range acts {
			m, _ := a.(map[string]any)
			cc, _ := m["notificationMessageCCList"].([]any)
			for _, g := range cc {
				if s, _ := g.(string); s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
