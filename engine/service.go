// Package engine is TenantAtlas's domain service and job engine: the one Start through which every
// operation run is created (docs/architecture.md#start), authorization, the operation and capability registries,
// River workers, the scheduler and crash recovery.
//
// The dashboard, the CLI and the SSH server all call Service; none of them writes runs themselves.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/notify"
	"github.com/tenantatlas/tenantatlas/store"
)

var (
	// ErrNotFound: the object does not exist, or the actor is not a member of its workspace (the two
	// are indistinguishable on purpose, docs/architecture.md#authorization).
	ErrNotFound = store.ErrNotFound
	// ErrForbidden: the actor is a member but lacks the capability.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: the request itself is wrong (unknown type, bad parameter).
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the object already exists.
	ErrConflict = store.ErrConflict
)

// ServiceOptions configure a Service.
type ServiceOptions struct {
	Logger *slog.Logger
	// Sealer encrypts provider credentials. Required for commands that store or use credentials.
	Sealer *Sealer
	// Metrics, when set, count runs started and finished.
	Metrics *Metrics
	// AlertTLS is the TLS configuration of TestAlertRoute's sends (default: the system's roots).
	AlertTLS *tls.Config
	// Graph is how this process reaches Microsoft Graph and the login authority for the checks the
	// service makes itself: a new credential's sign-in (SetCredential) and DiagnoseTenant.
	Graph graph.Config
}

// Service is the API of the engine used by the dashboard, CLI and SSH server. Reads are DB-only.
type Service struct {
	db      *store.DB
	river   *river.Client[pgx.Tx]
	sealer  *Sealer
	logger  *slog.Logger
	metrics *Metrics
	// sender sends TestAlertRoute's messages (engines deliver with their own).
	sender *notify.Sender
	graph  graph.Config
	// shared lets the dashboards that ask the same at once share one read (sharedread.go).
	shared sharedReaders
}

// NewService returns a Service. It inserts jobs through an insert-only River client, so it works
// whether or not this process also runs workers.
func NewService(db *store.DB, opts ServiceOptions) (*Service, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		FetchCooldown:     time.Millisecond, // also paces insert notifications (docs/architecture.md#job-runtime)
		FetchPollInterval: 100 * time.Millisecond,
		Logger:            logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("error creating job client: %w", err)
	}
	return &Service{db: db, river: client, sealer: opts.Sealer, logger: logger, metrics: opts.Metrics, graph: opts.Graph,
		sender: notify.NewSender(opts.AlertTLS, 20*time.Second)}, nil
}

// DB exposes the pool to wiring code that needs it (the hub, the engine).
func (s *Service) DB() *store.DB { return s.db }

func (s *Service) audit(ctx context.Context, q store.Querier, actor Actor, workspaceID *int64, action, targetKind, targetID string, details map[string]any) error {
	return store.InsertAudit(ctx, q, store.AuditEvent{WorkspaceID: workspaceID, ActorKind: string(actor.Kind), ActorUserID: actor.userIDPtr(),
		ActorName: actor.Name, Action: action, TargetKind: targetKind, TargetID: targetID, Details: details})
}
