package run

import (
	"context"
	"errors"
)

// errStopProducing ends a producer whose consumer failed.
var errStopProducing = errors.New("consumer stopped")

// StreamBatches overlaps reading Graph with writing PostgreSQL: produce runs in its own goroutine
// and emits items, which are grouped into batches of size; consume receives each batch in the
// calling goroutine (so a transaction stays on one goroutine). At most two batches wait between the
// two, which keeps memory flat. The first error of either side ends both.
func StreamBatches[T any](ctx context.Context, size int, produce func(emit func(T) error) error, consume func([]T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []T, 2)
	produced := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]T, 0, size)
		send := func() error {
			select {
			case batches <- batch:
				batch = make([]T, 0, size)
				return nil
			case <-ctx.Done():
				return errStopProducing
			}
		}
		err := produce(func(item T) error {
			if batch = append(batch, item); len(batch) == size {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		produced <- err
	}()
	for batch := range batches {
		if err := consume(batch); err != nil {
			cancel()
			for range batches { // let the producer finish
			}
			return err
		}
	}
	if err := <-produced; err != nil && !errors.Is(err, errStopProducing) {
		return err
	}
	return nil
}
