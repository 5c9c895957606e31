package engine

import "time"

// SchedulerPolls makes e's scheduler signal each completed poll on the returned channel (call it
// before Start): tests that advance a fake clock wait for the poll instead of sleeping.
func SchedulerPolls(e *Engine) <-chan struct{} {
	polls := make(chan struct{}, 1)
	e.scheduler.polled = polls
	return polls
}

// SchedulerBeforeArm makes e's scheduler call hook with a schedule's next fire time just before it
// arms the timer for it (call it before Start): a test can move a fake clock past that time.
func SchedulerBeforeArm(e *Engine, hook func(next time.Time)) {
	e.scheduler.beforeArm = hook
}
