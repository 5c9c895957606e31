package run

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStreamBatches(t *testing.T) {
	t.Parallel()
	produce := func(n int, fail error) func(emit func(int) error) error {
		return func(emit func(int) error) error {
			for i := range n {
				if err := emit(i); err != nil {
					return err
				}
			}
			return fail
		}
	}
	t.Run("BatchesInOrderWithARemainder", func(t *testing.T) {
		t.Parallel()
		var got [][]int
		err := StreamBatches(context.Background(), 3, produce(7, nil), func(b []int) error {
			got = append(got, b)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, [][]int{{0, 1, 2}, {3, 4, 5}, {6}}, got)
	})
	t.Run("NothingProducedNothingConsumed", func(t *testing.T) {
		t.Parallel()
		err := StreamBatches(context.Background(), 3, produce(0, nil), func([]int) error {
			t.Fatal("consumed an empty batch")
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("ProducerErrorEndsBoth", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("graph failed")
		err := StreamBatches(context.Background(), 2, produce(5, boom), func([]int) error { return nil })
		require.ErrorIs(t, err, boom)
	})
	t.Run("ConsumerErrorStopsTheProducer", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("database failed")
		emitted := 0
		err := StreamBatches(context.Background(), 2, func(emit func(int) error) error {
			for i := 0; ; i++ {
				if err := emit(i); err != nil {
					return err
				}
				emitted++
			}
		}, func([]int) error { return boom })
		require.ErrorIs(t, err, boom)
		require.Less(t, emitted, 10, "at most two batches wait between the two")
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	outcome, code, detail := Classify(Failure("provider_permission_denied", "the app lacks %s", "X.Read.All"))
	require.Equal(t, "blocked", string(outcome))
	require.Equal(t, "provider_permission_denied", string(code))
	require.Equal(t, "the app lacks X.Read.All", detail)
	outcome, code, _ = Classify(Failure("internal_error", "crashed"))
	require.Equal(t, "failed", string(outcome))
	require.Equal(t, code, CodeOf(Failure("internal_error", "crashed")))
}
