package tui

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
)

// The tenants screen's fleet starts: the keys the tenant detail uses for one tenant (v, s, S, i, b)
// start the same operation for every marked tenant — or the selected one — behind one
// confirmation that states the action and the count. The starts go through
// Service.StartFleet, as the CLI's --tag and --all do: one Start per tenant, each authorized on its
// own, so a refused tenant gets its line and the others start.

// fleetStartKind is one operation the tenants screen starts for many tenants.
type fleetStartKind struct {
	typ  string
	verb string // the question's verb phrase, before the count: "Back up", "Sync the groups of"
}

var fleetStarts = []fleetStartKind{
	{typ: engine.TypeProviderVerification, verb: "Verify"},
	{typ: engine.TypeDirectoryGroupsSync, verb: "Sync the groups of"},
	{typ: engine.TypeDirectoryRoleDefsSync, verb: "Sync the role definitions of"},
	{typ: engine.TypeInventorySync, verb: "Sync the inventory of"},
	{typ: engine.TypeBackupRun, verb: "Back up"},
}

// fleetTimeout bounds one fleet start: a Start per tenant, a few milliseconds each, for up to the
// whole fleet (callTimeout is for one short call).
const fleetTimeout = 5 * time.Minute

// fleetAction is the tenants screen's key k for kind: offered where the actor's role in some
// workspace of the rows may start it (the operation registry names the capability).
func fleetAction(k key.Binding, kind fleetStartKind) listAction[tenantRow, tenantsSide] {
	op, err := engine.LookupOperation(kind.typ)
	if err != nil {
		panic(err) // fleetStarts names registered types only
	}
	return listAction[tenantRow, tenantsSide]{key: k,
		offered: func(l *tenantsList) bool { return l.side.mayAny(op.Capability) },
		run: func(l *tenantsList) tea.Cmd {
			targets := l.markedOrCurrent()
			if len(targets) == 0 {
				return nil
			}
			ids := make([]int64, len(targets))
			for i, t := range targets {
				ids[i] = t.ID
			}
			what := fmt.Sprintf("%d tenants", len(targets))
			if len(targets) == 1 {
				what = targets[0].Name
			}
			l.ask(fmt.Sprintf("%s %s? y to start, any other key to leave them", kind.verb, what), "nothing started",
				func() tea.Cmd { return startFleet(l.env, l.id, op, ids) })
			return nil
		}}
}

// startFleet starts op for the tenants ids and reports what came of it to list id: how many
// started, how many were already active (an identity rule returned the active run), and one line
// per refusal.
func startFleet(env *Env, id int64, op engine.Operation, ids []int64) tea.Cmd {
	return func() tea.Msg {
		base := env.Lifetime
		if base == nil {
			base = context.Background()
		}
		ctx, cancel := context.WithTimeout(base, fleetTimeout)
		defer cancel()
		starts, err := env.Svc.StartFleet(ctx, env.Actor, engine.FleetTarget{TenantIDs: ids}, engine.StartRequest{Type: op.Type})
		started, active := 0, 0
		var refused []string
		for _, s := range starts {
			switch {
			case s.Err != nil:
				refused = append(refused, s.Tenant+"  "+s.Err.Error())
			case s.Result.Created:
				started++
			default:
				active++
			}
		}
		head := fmt.Sprintf("%s for %d tenant(s): %d started", op.Title, len(ids), started)
		if active > 0 {
			head += fmt.Sprintf(", %d already active", active)
		}
		if len(refused) > 0 {
			head += fmt.Sprintf(", %d refused", len(refused))
		}
		if err != nil {
			refused = append(refused, "stopped: "+err.Error())
		}
		return listReport{id: id, head: head + watchOnlyNote(env), refused: refused}
	}
}
