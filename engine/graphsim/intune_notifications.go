package graphsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Notification message templates with their localized messages (issue #18 item 4). Schemas from
// BETA notificationMessageTemplate {brandingOptions, defaultLocale, description, displayName, id,
// lastModifiedDateTime, roleScopeTagIds; navigation localizedNotificationMessages} and
// localizedNotificationMessage {id, isDefault, lastModifiedDateTime, locale, messageTemplate,
// subject}; writes per docs:intune-notification-localizednotificationmessage-create (POST
// …/{id}/localizedNotificationMessages, 201 + the message) and -delete (204).
func init() {
	typeSchemas["notificationMessageTemplate"] = typeSchema{chain: strs("notificationMessageTemplate"),
		props: strs("brandingOptions", "defaultLocale", "description", "displayName", "id", "lastModifiedDateTime", "roleScopeTagIds"),
		navs:  strs("localizedNotificationMessages")}
}

// localizedMessageProps are the properties of BETA localizedNotificationMessage.
var localizedMessageProps = []string{"id", "isDefault", "lastModifiedDateTime", "locale", "messageTemplate", "subject"}

// notificationTemplateShapes are the two template shapes, after the docs examples
// (docs:intune-notification-notificationmessagetemplate-create: brandingOptions a flags enum;
// -localizednotificationmessage-create: locale, subject, messageTemplate, isDefault): a template
// with a default English and a German message, one with a single message and several branding flags.
func notificationTemplateShape(k int, o map[string]any) []map[string]any {
	if k%2 == 0 {
		o["brandingOptions"], o["defaultLocale"] = "includeCompanyLogo", "en-us"
		return []map[string]any{
			{"@odata.type": graphNS + "localizedNotificationMessage", "locale": "en-us", "isDefault": true,
				"subject": "Your device is not compliant", "messageTemplate": "Your device no longer meets the company's policy. Open Company Portal to fix it."},
			{"@odata.type": graphNS + "localizedNotificationMessage", "locale": "de-de", "isDefault": false,
				"subject": "Ihr Gerät ist nicht konform", "messageTemplate": "Ihr Gerät erfüllt die Richtlinie nicht mehr. Öffnen Sie das Unternehmensportal."},
		}
	}
	o["brandingOptions"], o["defaultLocale"] = "includeCompanyName,includeContactInformation", "fr-fr"
	o["description"] = "Sent on enrollment"
	return []map[string]any{{"@odata.type": graphNS + "localizedNotificationMessage", "locale": "fr-fr", "isDefault": true,
		"subject": "Bienvenue", "messageTemplate": "Votre appareil est inscrit."}}
}

// withMessageIDs gives fixture messages their ids and timestamps.
func withMessageIDs(templateID string, msgs []map[string]any) []map[string]any {
	for i, m := range msgs {
		m["id"] = deterministicUUID("localizedMessage", templateID, i)
		m["lastModifiedDateTime"] = stamp(i)
	}
	return msgs
}

// createLocalizedMessage answers POST …/notificationMessageTemplates/{id}/localizedNotificationMessages.
func (s *Server) createLocalizedMessage(w http.ResponseWriter, req *simRequest, body map[string]any, obj *intuneObject) {
	for p := range body {
		if p == "@odata.type" {
			if body[p] != graphNS+"localizedNotificationMessage" {
				s.refuse(w, odataErr("A type named '%v' could not be resolved by the model.", body[p]))
				return
			}
			continue
		}
		if !strings.HasPrefix(p, "@") && !slices.Contains(localizedMessageProps, p) {
			s.refuse(w, unknownProperty(p, "localizedNotificationMessage"))
			return
		}
	}
	if loc, _ := body["locale"].(string); loc == "" {
		s.invalid(w, "The 'locale' property is required.")
		return
	}
	nav := "localizedNotificationMessages"
	for _, m := range obj.children[nav] {
		if strings.EqualFold(fmt.Sprint(m["locale"]), fmt.Sprint(body["locale"])) {
			s.intuneError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("A localized message for locale %v already exists.", body["locale"]))
			return
		}
	}
	m := maps.Clone(body)
	m["@odata.type"] = graphNS + "localizedNotificationMessage"
	m["id"] = deterministicUUID("localizedMessage", obj.id(), time.Now().UnixNano())
	m["lastModifiedDateTime"] = time.Now().UTC().Format(time.RFC3339Nano)
	if d, _ := m["isDefault"].(bool); d {
		// "This flag can only be set. To unset, set this property to true on another Localized
		// Notification Message." (BETA localizedNotificationMessage.isDefault)
		for _, o := range obj.children[nav] {
			o["isDefault"] = false
		}
	}
	obj.children[nav] = append(obj.children[nav], m)
	touch(obj.obj)
	out := maps.Clone(m)
	out["@odata.context"] = req.base + "/beta/$metadata#deviceManagement/notificationMessageTemplates('" + obj.id() + "')/localizedNotificationMessages/$entity"
	writeJSON(w, http.StatusCreated, out)
}
