// Package termtext makes text from outside TenantAtlas (Graph names, import files, users) safe to put
// in front of a terminal: every C0 control (including TAB, CR and LF), DEL, C1 control and invalid
// UTF-8 byte becomes visible text such as \x1b, \r, \u009b or \xff, so no escape sequence (OSC 52
// clipboard writes, OSC 0 titles, CSI screen clears, SGR colours) and no forged line reaches the
// terminal. It is the one place that does this: the dashboard scrubs everything it loads with Scrub,
// the CLI's table and text output (locally and over SSH) go through Escape and Writer. --json output
// does not: JSON escapes control characters itself and stays exact.
package termtext

import (
	"io"
	"reflect"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Escape returns s with every control character and invalid byte made visible, for one cell or one
// line: TAB, CR and LF are escaped too.
func Escape(s string) string { return escape(s, false) }

// Text is Escape for multi-line text: LF and TAB stay, everything else is escaped.
func Text(s string) string { return escape(s, true) }

func escape(s string, keepLines bool) string {
	if clean(s, keepLines) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b = append(b, `\x`...)
			b = append(b, hex2(s[i])...)
		case keepLines && (r == '\n' || r == '\t'):
			b = append(b, byte(r))
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < 0x20 || r == 0x7f:
			b = append(b, `\x`...)
			b = append(b, hex2(byte(r))...)
		case r >= 0x80 && r < 0xa0:
			b = append(b, `\u00`...)
			b = append(b, hex2(byte(r))...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// clean reports whether s needs no escaping.
func clean(s string, keepLines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			if keepLines && (c == '\n' || c == '\t') {
				continue
			}
			return false
		}
		if c >= 0x80 {
			return cleanUTF8(s[i:], keepLines)
		}
	}
	return true
}

func cleanUTF8(s string, keepLines bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r >= 0x80 && r < 0xa0, r == 0x7f:
			return false
		case r < 0x20 && (!keepLines || r != '\n' && r != '\t'):
			return false
		}
		i += size
	}
	return true
}

// Writer escapes what is written through it with Text (lines and tabs stay, so a tabwriter's layout
// survives), holding back an incomplete UTF-8 sequence at the end of a write until the next one.
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer onto w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (w *Writer) Write(p []byte) (int, error) {
	buf := append(w.pending, p...)
	cut := len(buf)
	// Hold back a trailing incomplete rune (at most 3 bytes).
	for i := 1; i <= 3 && i <= len(buf); i++ {
		c := buf[len(buf)-i]
		if c < 0x80 {
			break
		}
		if c >= 0xc0 { // a leading byte: complete only if its rune fits
			if !utf8.FullRune(buf[len(buf)-i:]) {
				cut = len(buf) - i
			}
			break
		}
	}
	w.pending = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(w.w, Text(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a held-back incomplete sequence (escaped).
func (w *Writer) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(w.w, Text(string(w.pending)))
	w.pending = nil
	return err
}

// Scrub escapes, in place and with Escape, every string reachable from v (a pointer): struct fields
// (exported or not), pointers, slices, arrays, maps and interfaces. Byte slices (raw JSON payloads),
// functions, channels and time values are left alone. The dashboard scrubs everything it loads, so no
// view can draw a hostile name raw.
func Scrub(v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return
	}
	s := scrubber{seen: map[uintptr]bool{}}
	s.walk(rv.Elem(), 0)
}

type scrubber struct{ seen map[uintptr]bool }

var (
	timeType     = reflect.TypeFor[time.Time]()
	locationType = reflect.TypeFor[time.Location]()
)

func (s *scrubber) walk(v reflect.Value, depth int) {
	if depth > 64 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if e := Escape(v.String()); e != v.String() && v.CanSet() {
			v.SetString(e)
		}
	case reflect.Pointer:
		if v.IsNil() || s.seen[v.Pointer()] {
			return
		}
		s.seen[v.Pointer()] = true
		s.walk(v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer {
			s.walk(e, depth+1)
			return
		}
		if !v.CanSet() {
			return
		}
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		s.walk(c, depth+1)
		v.Set(c)
	case reflect.Struct:
		if v.Type() == timeType || v.Type() == locationType {
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() && f.CanAddr() {
				f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
			}
			s.walk(f, depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 || v.IsNil() {
			return
		}
		if s.seen[v.Pointer()] {
			return
		}
		s.seen[v.Pointer()] = true
		for i := range v.Len() {
			s.walk(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			s.walk(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		if s.seen[v.Pointer()] {
			return
		}
		s.seen[v.Pointer()] = true
		iter := v.MapRange()
		type kv struct{ k, v reflect.Value }
		var changed []kv
		for iter.Next() {
			k, val := iter.Key(), iter.Value()
			nk := reflect.New(k.Type()).Elem()
			nk.Set(k)
			s.walk(nk, depth+1)
			nv := reflect.New(val.Type()).Elem()
			nv.Set(val)
			s.walk(nv, depth+1)
			if !nk.Equal(k) || !reflect.DeepEqual(nv.Interface(), val.Interface()) {
				changed = append(changed, kv{k, reflect.Value{}}, kv{nk, nv})
			}
		}
		for i := 0; i < len(changed); i += 2 {
			v.SetMapIndex(changed[i].k, reflect.Value{})
			v.SetMapIndex(changed[i+1].k, changed[i+1].v)
		}
	}
}
