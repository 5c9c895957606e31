package store

import "slices"

// Copies that share no memory with what they copy. The engine answers many dashboards with one read
// (engine/sharedread.go) and hands each a copy: a dashboard may then change its answer in place (it
// makes every string terminal-safe before drawing it) without touching another's.

// Clone returns a copy of r that shares no memory with it.
func (r Run) Clone() Run {
	c := r
	c.TenantID, c.ProviderConnectionID = clonePtr(r.TenantID), clonePtr(r.ProviderConnectionID)
	c.Outcome, c.IdentityKey = clonePtr(r.Outcome), clonePtr(r.IdentityKey)
	c.InitiatorUserID, c.ScheduleID = clonePtr(r.InitiatorUserID), clonePtr(r.ScheduleID)
	c.IntendedFireTime, c.ProgressTotal = clonePtr(r.IntendedFireTime), clonePtr(r.ProgressTotal)
	c.Params, c.Result = cloneJSONMap(r.Params), cloneJSONMap(r.Result)
	c.ReasonCode, c.ReasonDetail = clonePtr(r.ReasonCode), clonePtr(r.ReasonDetail)
	c.RetryOfRunID, c.RiverJobID = clonePtr(r.RetryOfRunID), clonePtr(r.RiverJobID)
	c.CancelRequestedAt, c.CancelRequestedBy = clonePtr(r.CancelRequestedAt), clonePtr(r.CancelRequestedBy)
	c.HeartbeatAt, c.StartedAt, c.FinishedAt = clonePtr(r.HeartbeatAt), clonePtr(r.StartedAt), clonePtr(r.FinishedAt)
	return c
}

// Clone returns a copy of e that shares no memory with it.
func (e RunEvent) Clone() RunEvent {
	c := e
	c.ReasonCode, c.ItemRef = clonePtr(e.ReasonCode), clonePtr(e.ItemRef)
	c.Details = cloneJSONMap(e.Details)
	return c
}

// CloneEvents clones every event of events (nil stays nil).
func CloneEvents(events []RunEvent) []RunEvent {
	if events == nil {
		return nil
	}
	out := make([]RunEvent, len(events))
	for i, e := range events {
		out[i] = e.Clone()
	}
	return out
}

// Clone returns a copy of e that shares no memory with it.
func (e EngineRecord) Clone() EngineRecord {
	c := e
	c.Queues = slices.Clone(e.Queues)
	c.StoppedAt = clonePtr(e.StoppedAt)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneJSONMap copies a decoded JSON object, nested objects and arrays included.
func cloneJSONMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneJSON(v)
	}
	return out
}

func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSONMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneJSON(e)
		}
		return out
	default:
		return v // strings, numbers, booleans and null do not change in place
	}
}
