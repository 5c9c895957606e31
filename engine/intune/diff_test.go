package intune

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFieldDiff(t *testing.T) {
	t.Parallel()
	from := []byte(`{"a": 1, "b": {"c": "x", "d": []}, "gone": true}`)
	to := []byte(`{"a": 1, "b": {"c": "y", "d": [1]}, "new": {}}`)
	for _, tc := range []struct {
		name      string
		sensitive bool
		want      []FieldChange
	}{
		{"LeafByLeaf", false, []FieldChange{
			{Path: "b.c", From: `"x"`, To: `"y"`}, {Path: "b.d", From: "[]"}, {Path: "b.d[0]", To: "1"},
			{Path: "gone", From: "true"}, {Path: "new", To: "{}"}}},
		{"SensitiveShowsPathsNotValues", true, []FieldChange{
			{Path: "b.c", From: strconv.Quote(Redacted), To: strconv.Quote(Redacted)}, {Path: "b.d", From: strconv.Quote(Redacted)},
			{Path: "b.d[0]", To: strconv.Quote(Redacted)}, {Path: "gone", From: strconv.Quote(Redacted)}, {Path: "new", To: strconv.Quote(Redacted)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, truncated := FieldDiff(from, to, tc.sensitive)
			require.False(t, truncated)
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("Truncated", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("{")
		for i := range maxFieldChanges + 5 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%03d": %d`, i, i)
		}
		b.WriteString("}")
		got, truncated := FieldDiff([]byte("{}"), []byte(b.String()), false)
		require.True(t, truncated)
		require.Len(t, got, maxFieldChanges)
	})
}

func TestParseFamilies(t *testing.T) {
	t.Parallel()
	all, err := ParseFamilies(nil)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	got, err := ParseFamilies([]string{" deviceConfigurations", "deviceConfigurations", ""})
	require.NoError(t, err)
	require.Len(t, got, 1, "trimmed and deduplicated")
	_, err = ParseFamilies([]string{"printers"})
	require.ErrorContains(t, err, `unknown family "printers"`)
}
