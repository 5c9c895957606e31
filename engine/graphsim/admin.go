package graphsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// The admin API under /_sim/ drives faults and mutations from another process (the demo, a
// shell). It has no authentication: the simulator is a local test tool, bind it to loopback.
//
//	GET    /_sim/tenants                              tenants with credentials
//	GET    /_sim/tenants/{t}                          one tenant (t = id, domain or name)
//	GET    /_sim/tenants/{t}/certificate              certificate + key PEM for certificate auth
//	POST   /_sim/tenants/{t}/faults                   add a Fault ({"kind":"throttle","endpoint":"groups.list","count":3,"retryAfter":1,"delay":"2s"})
//	DELETE /_sim/tenants/{t}/faults                   clear faults
//	PUT    /_sim/tenants/{t}/auth                     {"fault":"secret_expired"|"wrong_secret"|"app_not_found"|"tenant_not_found"|"bad_certificate"|"invalid_scope"|""}
//	PUT    /_sim/tenants/{t}/roles                    {"roles":[...]} (empty: no consent)
//	DELETE /_sim/tenants/{t}/roles/{role}             revoke one permission
//	PUT    /_sim/tenants/{t}/license                  {"licensed":false}
//	POST   /_sim/tenants/{t}/groups                   {"displayName":"..."} -> {"id":"..."}
//	PATCH  /_sim/tenants/{t}/groups/{id}              {"displayName":"..."}
//	DELETE /_sim/tenants/{t}/groups/{id}
//	POST   /_sim/tenants/{t}/delta/expire             {"resync":false}
//	GET    /_sim/tenants/{t}/policies/{family}
//	POST   /_sim/tenants/{t}/policies/{family}        object -> {"id":"..."}
//	PATCH  /_sim/tenants/{t}/policies/{family}/{id}   partial object
//	DELETE /_sim/tenants/{t}/policies/{family}/{id}
//	GET    /_sim/tenants/{t}/policies/{family}/{id}/assignments
//	GET    /_sim/tenants/{t}/policies/{family}/{id}/children/{nav}   settings, scheduledActionsForRule, definitionValues, apps, …
//	GET    /_sim/tenants/{t}/requests                 the request log

// TenantInfo is the admin API's view of a tenant.
type TenantInfo struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Domain       string   `json:"domain"`
	Profile      string   `json:"profile"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	Groups       int      `json:"groups"`
	Roles        []string `json:"roles"`
	Faults       []Fault  `json:"faults"`
}

// Info describes the tenant, credentials included (the simulator's secrets are not secret).
func (t *Tenant) Info() TenantInfo {
	return TenantInfo{ID: t.ID, Name: t.Name, Domain: t.Domain, Profile: t.Profile, ClientID: t.ClientID,
		ClientSecret: t.ClientSecret, Groups: t.GroupCount(), Roles: t.Roles(), Faults: t.Faults()}
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	s.adminOnce.Do(func() { s.adminMux = s.buildAdmin() })
	s.adminMux.ServeHTTP(w, r)
}

func (s *Server) buildAdmin() *http.ServeMux {
	mux := http.NewServeMux()
	tenant := func(h func(http.ResponseWriter, *http.Request, *Tenant)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			t := s.Tenant(r.PathValue("t"))
			if t == nil {
				adminError(w, http.StatusNotFound, errors.New("no such tenant"))
				return
			}
			h(w, r, t)
		}
	}
	mux.HandleFunc("GET /_sim/tenants", func(w http.ResponseWriter, r *http.Request) {
		var out []TenantInfo
		for _, t := range s.tenants {
			out = append(out, t.Info())
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /_sim/tenants/{t}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		writeJSON(w, http.StatusOK, t.Info())
	}))
	mux.HandleFunc("GET /_sim/tenants/{t}/certificate", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		pem, err := t.CertificatePEM()
		if err != nil {
			adminError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(pem)
	}))
	mux.HandleFunc("POST /_sim/tenants/{t}/faults", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			Fault
			Delay string `json:"delay"`
		}
		if !decodeAdmin(w, r, &in) {
			return
		}
		if in.Delay != "" {
			d, err := time.ParseDuration(in.Delay)
			if err != nil {
				adminError(w, http.StatusBadRequest, err)
				return
			}
			in.Fault.Delay = d
		}
		t.AddFault(in.Fault)
		writeJSON(w, http.StatusOK, t.Faults())
	}))
	mux.HandleFunc("DELETE /_sim/tenants/{t}/faults", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		t.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("PUT /_sim/tenants/{t}/auth", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			Fault AuthFault `json:"fault"`
		}
		if decodeAdmin(w, r, &in) {
			t.SetAuthFault(in.Fault)
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	mux.HandleFunc("PUT /_sim/tenants/{t}/roles", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			Roles []string `json:"roles"`
		}
		if decodeAdmin(w, r, &in) {
			t.SetRoles(in.Roles)
			writeJSON(w, http.StatusOK, t.Roles())
		}
	}))
	mux.HandleFunc("DELETE /_sim/tenants/{t}/roles/{role}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		t.RemoveRoles(r.PathValue("role"))
		writeJSON(w, http.StatusOK, t.Roles())
	}))
	mux.HandleFunc("PUT /_sim/tenants/{t}/license", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			Licensed bool `json:"licensed"`
		}
		if decodeAdmin(w, r, &in) {
			t.SetIntuneLicensed(in.Licensed)
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	mux.HandleFunc("POST /_sim/tenants/{t}/groups", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			DisplayName string `json:"displayName"`
		}
		if decodeAdmin(w, r, &in) {
			writeJSON(w, http.StatusCreated, map[string]string{"id": t.AddGroup(in.DisplayName)})
		}
	}))
	mux.HandleFunc("PATCH /_sim/tenants/{t}/groups/{id}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			DisplayName string `json:"displayName"`
		}
		if decodeAdmin(w, r, &in) {
			adminResult(w, t.RenameGroup(r.PathValue("id"), in.DisplayName))
		}
	}))
	mux.HandleFunc("DELETE /_sim/tenants/{t}/groups/{id}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		adminResult(w, t.DeleteGroup(r.PathValue("id")))
	}))
	mux.HandleFunc("POST /_sim/tenants/{t}/delta/expire", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in struct {
			Resync bool `json:"resync"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		t.ExpireDeltaTokens(in.Resync)
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /_sim/tenants/{t}/policies/{family}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		writeJSON(w, http.StatusOK, t.Policies(graph.Family(r.PathValue("family"))))
	}))
	mux.HandleFunc("POST /_sim/tenants/{t}/policies/{family}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in map[string]any
		if !decodeAdmin(w, r, &in) {
			return
		}
		id, err := t.AddPolicy(graph.Family(r.PathValue("family")), in)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	}))
	mux.HandleFunc("PATCH /_sim/tenants/{t}/policies/{family}/{id}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		var in map[string]any
		if decodeAdmin(w, r, &in) {
			adminResult(w, t.UpdatePolicy(graph.Family(r.PathValue("family")), r.PathValue("id"), in))
		}
	}))
	mux.HandleFunc("DELETE /_sim/tenants/{t}/policies/{family}/{id}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		adminResult(w, t.DeletePolicy(graph.Family(r.PathValue("family")), r.PathValue("id")))
	}))
	mux.HandleFunc("GET /_sim/tenants/{t}/policies/{family}/{id}/assignments", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		as, err := t.Assignments(graph.Family(r.PathValue("family")), r.PathValue("id"))
		if err != nil {
			adminResult(w, err)
			return
		}
		writeJSON(w, http.StatusOK, nonNil(as))
	}))
	mux.HandleFunc("GET /_sim/tenants/{t}/policies/{family}/{id}/children/{nav}", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		cs, err := t.Children(graph.Family(r.PathValue("family")), r.PathValue("id"), r.PathValue("nav"))
		if err != nil {
			adminResult(w, err)
			return
		}
		writeJSON(w, http.StatusOK, nonNil(cs))
	}))
	mux.HandleFunc("GET /_sim/tenants/{t}/requests", tenant(func(w http.ResponseWriter, r *http.Request, t *Tenant) {
		writeJSON(w, http.StatusOK, t.Requests())
	}))
	return mux
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func adminResult(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrNoSuchGroup), errors.Is(err, ErrNoSuchPolicy):
		adminError(w, http.StatusNotFound, err)
	default:
		adminError(w, http.StatusBadRequest, err)
	}
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
