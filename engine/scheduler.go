package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/tenantatlas/tenantatlas/internal/startstop"
	"github.com/tenantatlas/tenantatlas/store"
)

// Scheduler fires backup schedules (docs/design.md#scheduling). Every engine process runs one; there is no leader:
// each firing calls Service.Start with the schedule's nominal fire time (from cron + zone, whole
// seconds), and the strict identity (schedule, tenant, intended fire time) lets exactly one run
// exist per tenant and fire time however many engines fire it. A fleet schedule (a tag or every
// tenant of its workspace) resolves its tenants at each firing and starts one run per tenant with
// the same fire time; a tenant refused does not stop the others, and what a firing could not do
// is recorded on the schedule (last_fire_note).
//
// Each schedule has one timer on the scheduler's clock, armed for its next nominal fire time; when
// it fires, every fire time due since the last one this process handled is started (normally
// exactly one), so a late wake-up never loses a fire time. A fire time that has already passed when
// its timer is armed fires at once. Schedules are reloaded when the schedules table changes
// (a cheap count + max(updated_at) poll every PollInterval), which also re-checks due fire times.
//
// After downtime a schedule gets one catch-up run (per tenant), marked late, for its most recent
// missed fire time (older misses are dropped); fire times before the schedule was created, resumed
// or re-timed never count as missed. When nothing was missed, a fleet schedule re-fires its latest
// fire time on arming: the tenants that have its run are skipped by the identity rule, and a tenant
// an engine did not reach before it stopped gets its run.
type Scheduler struct {
	svc    *Service
	logger *slog.Logger
	// PollInterval is how often the schedules table is checked for changes. Default 2 s.
	PollInterval time.Duration
	// Grace is how old a due fire time may be and still count as on time (not late). It must exceed
	// PollInterval: a new schedule is seen only at the next poll. Default 2×PollInterval + 1 s.
	Grace time.Duration

	lifecycle startstop.Base
	clock     clockwork.Clock

	mu       sync.Mutex
	version  string
	armed    map[int64]*armedSchedule
	stopping bool           // set once the loop ends: timers that fire now do nothing
	firing   sync.WaitGroup // timer callbacks under way, waited for before the scheduler stops
	// polled, when set (tests, before Start), is signalled after every poll; a signal the test has
	// not read yet is not repeated.
	polled chan<- struct{}
	// beforeArm, when set (tests, before Start), is called with a schedule's next fire time just
	// before its timer is armed.
	beforeArm func(next time.Time)
}

type armedSchedule struct {
	mu     sync.Mutex
	sched  store.BackupSchedule
	spec   CronSpec
	key    string
	cursor time.Time // fire times at or before cursor are handled
	timer  clockwork.Timer
	next   time.Time // the fire time timer is armed for
}

// NewScheduler returns a scheduler on svc. clock is its time source, for the fire times, the
// fire-time timers and the poll (nil: the real clock; tests advance a fake one).
func NewScheduler(svc *Service, logger *slog.Logger, pollInterval time.Duration, clock clockwork.Clock) *Scheduler {
	if logger == nil {
		logger = svc.logger
	}
	if pollInterval <= 0 {
		pollInterval = 2 * time.Second
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Scheduler{svc: svc, logger: logger.With("component", "scheduler"), PollInterval: pollInterval,
		Grace: 2*pollInterval + time.Second, clock: clock, armed: map[int64]*armedSchedule{}}
}

// Start loads the schedules and begins firing them in the background, until ctx ends or Stop is
// called (internal/startstop).
func (s *Scheduler) Start(ctx context.Context) error {
	ctx, stopped, err := s.lifecycle.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("scheduler %w", err)
	}
	s.mu.Lock()
	s.version, s.armed, s.stopping = "", map[int64]*armedSchedule{}, false
	s.mu.Unlock()
	go func() {
		defer stopped()
		s.loop(ctx)
		s.shutdown()
	}()
	return nil
}

// shutdown disarms every schedule and waits for timer callbacks already under way (they see the
// ended context and stop soon).
func (s *Scheduler) shutdown() {
	s.mu.Lock()
	s.stopping = true
	ids := make([]int64, 0, len(s.armed))
	for id := range s.armed {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.disarm(id)
	}
	s.firing.Wait()
}

// Stop stops firing and returns once the scheduler has stopped. It tolerates never-started and
// double-stop.
func (s *Scheduler) Stop() { s.lifecycle.Stop() }

func (s *Scheduler) loop(ctx context.Context) {
	ticker := s.clock.NewTicker(s.PollInterval)
	defer ticker.Stop()
	for {
		if err := s.poll(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("schedule poll failed", "error", err)
		}
		if s.polled != nil {
			select {
			case s.polled <- struct{}{}:
			default: // the test has not read the last one yet
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.Chan():
		}
	}
}

// poll reloads the schedules when the table changed, then fires anything due (a safety net for
// timers that woke late or not at all).
func (s *Scheduler) poll(ctx context.Context) error {
	v, err := store.ScheduleVersion(ctx, s.svc.db.Pool)
	if err != nil {
		return err
	}
	s.mu.Lock()
	changed := v != s.version
	s.mu.Unlock()
	if changed {
		if err := s.reload(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		s.version = v
		s.mu.Unlock()
	}
	s.mu.Lock()
	armed := make([]*armedSchedule, 0, len(s.armed))
	for _, a := range s.armed {
		armed = append(armed, a)
	}
	s.mu.Unlock()
	for _, a := range armed {
		s.fire(ctx, a)
	}
	return nil
}

func scheduleKey(sch store.BackupSchedule) string {
	return strings.Join([]string{sch.Cron, sch.Timezone, sch.FireFrom.UTC().Format(time.RFC3339Nano), fmt.Sprint(sch.TenantID),
		sch.TargetTag, fmt.Sprint(sch.TargetAll), strings.Join(sch.Families, ",")}, "|")
}

// reload arms new and changed schedules and disarms paused and removed ones.
func (s *Scheduler) reload(ctx context.Context) error {
	list, err := store.ListSchedules(ctx, s.svc.db.Pool, store.ScheduleFilter{})
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	for _, sch := range list {
		if sch.Paused {
			continue
		}
		seen[sch.ID] = true
		s.mu.Lock()
		cur := s.armed[sch.ID]
		s.mu.Unlock()
		key := scheduleKey(sch)
		if cur != nil && cur.key == key {
			cur.mu.Lock()
			cur.sched = sch // name or retention changes need no re-arming
			cur.mu.Unlock()
			continue
		}
		if cur != nil {
			s.disarm(sch.ID)
		}
		if err := s.arm(ctx, sch, key); err != nil {
			s.logger.Warn("cannot arm schedule", "schedule_id", sch.ID, "error", err)
		}
	}
	s.mu.Lock()
	var gone []int64
	for id := range s.armed {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	s.mu.Unlock()
	for _, id := range gone {
		s.disarm(id)
	}
	return nil
}

func (s *Scheduler) disarm(id int64) {
	s.mu.Lock()
	a := s.armed[id]
	delete(s.armed, id)
	s.mu.Unlock()
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopTimer()
}

// stopTimer stops the schedule's timer, if any (a.mu held). A callback it no longer stops finds
// the schedule disarmed or re-armed and does nothing.
func (a *armedSchedule) stopTimer() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer, a.next = nil, time.Time{}
	}
}

// arm starts tracking a schedule: one catch-up run for a missed fire time, then the timer.
func (s *Scheduler) arm(ctx context.Context, sch store.BackupSchedule, key string) error {
	spec, err := ParseCronSpec(sch.Cron, sch.Timezone)
	if err != nil {
		return err
	}
	floor := sch.FireFrom.UTC()
	last, err := store.LatestScheduledFireTime(ctx, s.svc.db.Pool, sch.ID)
	if err != nil {
		return err
	}
	if last != nil && last.After(floor) {
		floor = last.UTC()
	}
	now := s.clock.Now()
	a := &armedSchedule{sched: sch, spec: spec, key: key, cursor: floor}
	// The most recent fire time older than the grace period that has no run is missed: one late run.
	if missed, ok := spec.Prev(now.Add(-s.Grace)); ok && missed.After(floor) {
		if err := s.start(ctx, sch, missed, true); err != nil {
			return err
		}
		a.cursor = missed
	} else if sch.IsFleet() && last != nil && !last.Before(sch.FireFrom.UTC().Truncate(time.Second)) {
		if err := s.start(ctx, sch, last.UTC(), now.Sub(*last) > s.Grace); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.armed[sch.ID] = a
	s.mu.Unlock()
	s.fire(ctx, a)
	return nil
}

// fire starts every fire time due since the cursor and re-arms the timer at the next one.
func (s *Scheduler) fire(ctx context.Context, a *armedSchedule) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := s.clock.Now()
	for _, at := range a.spec.Between(a.cursor, now, 100) {
		if err := s.start(ctx, a.sched, at, false); err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("cannot start scheduled backup; retrying at the next poll", "schedule_id", a.sched.ID, "fire_time", at, "error", err)
			}
			break
		}
		a.cursor = at
	}
	s.rearm(ctx, a, now)
}

// rearm points the schedule's timer at its next fire time (a.mu held). A timer already armed for
// that time is kept.
func (s *Scheduler) rearm(ctx context.Context, a *armedSchedule, now time.Time) {
	next := a.spec.Next(maxTime(a.cursor, now))
	if next.IsZero() {
		return
	}
	if !s.lifecycle.Running() || ctx.Err() != nil {
		return
	}
	if a.timer != nil && a.next.Equal(next) {
		return
	}
	a.stopTimer()
	if s.beforeArm != nil {
		s.beforeArm(next)
	}
	// The clock may have passed next since now was read (a loaded machine): the timer then fires at
	// once, and fire starts that fire time.
	id := a.sched.ID
	a.next = next
	a.timer = s.clock.AfterFunc(next.Sub(s.clock.Now()), func() { s.timerFired(ctx, id, a) })
}

// timerFired runs a schedule's timer callback: it fires the schedule unless the schedule was
// disarmed or re-armed meanwhile, or the scheduler is stopping.
func (s *Scheduler) timerFired(ctx context.Context, id int64, a *armedSchedule) {
	s.mu.Lock()
	if s.stopping || s.armed[id] != a {
		s.mu.Unlock()
		return
	}
	s.firing.Add(1)
	s.mu.Unlock()
	defer s.firing.Done()
	s.fire(ctx, a)
}

// start asks for the runs of one fire time: the schedule's tenant, or each tenant of a fleet
// schedule. An existing run (another engine fired it) is fine. An error means the fire time is
// tried again (at the next poll); a fleet schedule's refused tenants are not an error: they are
// logged and recorded on the schedule, and the others are started.
func (s *Scheduler) start(ctx context.Context, sch store.BackupSchedule, at time.Time, late bool) error {
	if !sch.IsFleet() {
		return s.startTenant(ctx, sch, sch.TenantID, at, late)
	}
	var tenants []store.Tenant
	var err error
	if sch.TargetAll {
		tenants, err = store.ListTenants(ctx, s.svc.db.Pool, []int64{sch.WorkspaceID})
	} else {
		tenants, err = store.ListTenantsTagged(ctx, s.svc.db.Pool, []int64{sch.WorkspaceID}, sch.TargetTag)
	}
	if err != nil {
		return err
	}
	at = at.UTC().Truncate(time.Second)
	if len(tenants) == 0 {
		note := fmt.Sprintf("%s: %s matches no tenant: nothing started", at.Format(time.RFC3339), sch.Target())
		s.logger.Warn("scheduled backup has no tenant", "schedule_id", sch.ID, "target", sch.Target(), "fire_time", at)
		return store.SetScheduleFireNote(ctx, s.svc.db.Pool, sch.ID, note)
	}
	var refused []string
	var retry error
	for _, t := range tenants {
		err := s.startTenant(ctx, sch, t.ID, at, late)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return err
		case errors.Is(err, ErrInvalid), errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden):
			s.logger.Warn("scheduled backup refused for a tenant", "schedule_id", sch.ID, "tenant", t.Name, "fire_time", at, "error", err)
			refused = append(refused, t.Name+": "+err.Error())
		default:
			if retry == nil {
				retry = fmt.Errorf("tenant %s: %w", t.Name, err)
			}
		}
	}
	note := ""
	if len(refused) > 0 {
		note = fmt.Sprintf("%s: %d of %d tenants refused: %s", at.Format(time.RFC3339), len(refused), len(tenants), strings.Join(refused, "; "))
	}
	if err := store.SetScheduleFireNote(ctx, s.svc.db.Pool, sch.ID, note); err != nil {
		return err
	}
	return retry
}

// startTenant asks for the run of one tenant and fire time.
func (s *Scheduler) startTenant(ctx context.Context, sch store.BackupSchedule, tenantID int64, at time.Time, late bool) error {
	params := map[string]any{}
	if len(sch.Families) > 0 {
		params["families"] = slices.Clone(sch.Families)
	}
	typ := TypeBackupScheduled
	if sch.Operation == store.ScheduleDriftCheck {
		typ = TypeDriftCheck // dedupe per tenant, and once per (schedule, fire time) (start.go)
	}
	res, err := s.svc.Start(ctx, ScheduleActor, StartRequest{Type: typ, TenantID: tenantID,
		ScheduleID: sch.ID, IntendedFireTime: at, IsLate: late, Params: params})
	if err != nil {
		return err
	}
	if res.Created {
		s.logger.Info("scheduled run started", "type", typ, "schedule_id", sch.ID, "tenant_id", tenantID, "fire_time", at, "run_id", res.Run.ID, "late", late)
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
