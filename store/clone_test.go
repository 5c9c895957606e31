package store_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
)

// Clone shares no memory with what it copies, whatever fields the types gain: every pointer, map and
// slice field is filled, and the clone's must live elsewhere (the engine hands one read to many
// dashboards, each a clone it may change in place).
func TestCloneSharesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		value any
		clone func(any) any
	}{
		{"Run", &store.Run{}, func(v any) any { c := v.(*store.Run).Clone(); return &c }},
		{"RunEvent", &store.RunEvent{}, func(v any) any { c := v.(*store.RunEvent).Clone(); return &c }},
		{"EngineRecord", &store.EngineRecord{}, func(v any) any { c := v.(*store.EngineRecord).Clone(); return &c }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fill(reflect.ValueOf(tc.value).Elem())
			orig, clone := reflect.ValueOf(tc.value).Elem(), reflect.ValueOf(tc.clone(tc.value)).Elem()
			require.Equal(t, orig.Interface(), clone.Interface(), "a clone is equal")
			for i := range orig.NumField() {
				f := orig.Type().Field(i)
				switch f.Type.Kind() {
				case reflect.Pointer, reflect.Map, reflect.Slice:
					require.NotEqual(t, orig.Field(i).Pointer(), clone.Field(i).Pointer(), "%s is shared", f.Name)
				}
			}
		})
	}
}

// fill sets every pointer, map and slice field of the struct v to a value of its own.
func fill(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Map:
			m := reflect.MakeMap(f.Type())
			m.SetMapIndex(reflect.Zero(f.Type().Key()), reflect.Zero(f.Type().Elem()))
			f.Set(m)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		}
	}
}
