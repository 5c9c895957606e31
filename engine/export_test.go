package engine

// SchedulerPolls makes e's scheduler signal each completed poll on the returned channel (call it
// before Start): tests that advance a fake clock wait for the poll instead of sleeping.
func SchedulerPolls(e *Engine) <-chan struct{} {
	polls := make(chan struct{}, 1)
	e.scheduler.polled = polls
	return polls
}
