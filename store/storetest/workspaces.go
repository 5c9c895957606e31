package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/tenantatlas/tenantatlas/store"
)

// DefaultWorkspace returns the workspace the migrations create (named "default"), where fixtures
// go unless a WorkspaceID says otherwise.
func DefaultWorkspace(ctx context.Context, tb testing.TB, q store.Querier) store.Workspace {
	tb.Helper()
	w, err := store.GetWorkspaceByName(ctx, q, "default")
	must(tb, err)
	return w
}

// WorkspaceOpts are the options of Workspace.
type WorkspaceOpts struct {
	Name string // default: unique "workspace-N"
}

// Workspace creates a workspace.
func Workspace(ctx context.Context, tb testing.TB, q store.Querier, opts *WorkspaceOpts) store.Workspace {
	tb.Helper()
	opts = orZero(opts)
	w, err := store.InsertWorkspace(ctx, q, or(opts.Name, fmt.Sprintf("workspace-%d", next())))
	must(tb, err)
	return w
}

// UserOpts are the options of User.
type UserOpts struct {
	Name string // default: unique "user-N"
	// Role, when set, makes the user a member of WorkspaceID (default: the default workspace) with it.
	Role        string
	WorkspaceID int64
}

// User creates a user, and its membership when opts.Role is set.
func User(ctx context.Context, tb testing.TB, q store.Querier, opts *UserOpts) store.User {
	tb.Helper()
	opts = orZero(opts)
	u, err := store.InsertUser(ctx, q, or(opts.Name, fmt.Sprintf("user-%d", next())))
	must(tb, err)
	if opts.Role != "" {
		must(tb, store.UpsertMembership(ctx, q, workspaceOr(ctx, tb, q, opts.WorkspaceID), u.ID, opts.Role))
	}
	return u
}

// SSHKeyOpts are the options of SSHKey.
type SSHKeyOpts struct {
	UserID      int64  // required
	Fingerprint string // default: unique "SHA256:storetest-N"
	PublicKey   string // default: a placeholder; tests that authenticate pass the real key
	Comment     string
}

// SSHKey registers a key for a user.
func SSHKey(ctx context.Context, tb testing.TB, q store.Querier, opts *SSHKeyOpts) store.SSHKey {
	tb.Helper()
	opts = orZero(opts)
	n := next()
	k, err := store.InsertSSHKey(ctx, q, store.SSHKey{UserID: opts.UserID, Fingerprint: or(opts.Fingerprint, fmt.Sprintf("SHA256:storetest-%d", n)),
		PublicKey: or(opts.PublicKey, fmt.Sprintf("ssh-ed25519 storetest-%d", n)), Comment: opts.Comment})
	must(tb, err)
	return k
}
