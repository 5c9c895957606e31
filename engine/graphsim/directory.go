package graphsim

import (
	"net/http"
	"strings"
)

// Directory role definitions: the built-in roles every tenant has (real template ids) plus a few
// custom roles per tenant.

var builtInRoles = []struct{ id, name, desc string }{
	{"62e90394-69f5-4237-9190-012177145e10", "Global Administrator", "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."},
	{"f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", "Can read everything that a Global Administrator can, but not update anything."},
	{"729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", "Can reset passwords for non-administrators and Helpdesk Administrators."},
	{"3a2c62db-5318-420d-8d74-23affee5d9d5", "Intune Administrator", "Can manage all aspects of the Intune product."},
	{"fdd7a751-b60b-444a-984c-02652fe8fa1c", "Groups Administrator", "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports."},
	{"fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "Can manage all aspects of users and groups, including resetting passwords for limited admins."},
	{"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator", "Can create and manage all aspects of app registrations and enterprise apps."},
	{"7698a772-787b-4ac8-901f-60d6b08affd2", "Cloud Device Administrator", "Limited access to manage devices in Microsoft Entra ID."},
	{"194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator", "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365."},
	{"5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader", "Can read security information and reports in Microsoft Entra ID and Office 365."},
}

func (t *Tenant) roleDefinitions() []map[string]any {
	var out []map[string]any
	for _, r := range builtInRoles {
		out = append(out, map[string]any{
			"id": r.id, "description": r.desc, "displayName": r.name, "isBuiltIn": true, "isEnabled": true,
			"resourceScopes": []string{"/"}, "templateId": r.id, "version": "1",
			"rolePermissions":         []any{map[string]any{"allowedResourceActions": []string{"microsoft.directory/" + strings.ToLower(strings.ReplaceAll(r.name, " ", "")) + "/allProperties/read"}, "condition": nil}},
			"inheritsPermissionsFrom": []any{},
		})
	}
	for i, name := range []string{"Device Group Operator", "Autopilot Reader", "Tier-2 Helpdesk"} {
		id := deterministicUUID("roledef", t.ID, i)
		out = append(out, map[string]any{
			"id": id, "description": "Custom role " + name, "displayName": name, "isBuiltIn": false, "isEnabled": i != 2,
			"resourceScopes": []string{"/"}, "templateId": id, "version": nil,
			"rolePermissions":         []any{map[string]any{"allowedResourceActions": []string{"microsoft.directory/groups/members/update", "microsoft.directory/devices/standard/read"}, "condition": nil}},
			"inheritsPermissionsFrom": []any{},
		})
	}
	return out
}

// serveRoleDefinitions lists role definitions; $filter supports isBuiltIn eq true|false (what the
// verification probe uses); other filters are ignored.
func (s *Server) serveRoleDefinitions(w http.ResponseWriter, req *simRequest) {
	defs := req.tenant.roleDefinitions()
	if f := strings.ToLower(strings.Join(strings.Fields(req.query.Get("$filter")), " ")); f != "" {
		want := ""
		switch f {
		case "isbuiltin eq true":
			want = "true"
		case "isbuiltin eq false":
			want = "false"
		}
		if want != "" {
			var kept []map[string]any
			for _, d := range defs {
				if (d["isBuiltIn"] == true) == (want == "true") {
					kept = append(kept, d)
				}
			}
			defs = kept
		}
	}
	s.writeSlice(w, req, defs, 1000, 1000, req.base+"/v1.0/$metadata#roleManagement/directory/roleDefinitions")
}
