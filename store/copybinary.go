package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// binaryCopy builds a COPY … FROM STDIN (FORMAT binary) stream for the directory caches, whose
// columns are a handful of plain types. Encoding them here, straight into one buffer, costs a
// fraction of pgx's per-value encoding through []any, on the hot path of a million-group sync.
//
// Format (PostgreSQL docs, COPY "Binary Format"): a signature and two zero int32s; per row an int16
// field count, then per field an int32 length (-1 for NULL) and the value in its type's binary
// send format; an int16 -1 at the end.
type binaryCopy struct {
	buf bytes.Buffer
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is where timestamptz's binary form counts microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const textOID = 25

func (c *binaryCopy) reset() {
	c.buf.Reset()
	c.buf.Write(copySignature)
}

func (c *binaryCopy) row(fields int) { c.int16(int16(fields)) }

func (c *binaryCopy) int16(v int16) {
	c.buf.Write(binary.BigEndian.AppendUint16(nil, uint16(v)))
}

func (c *binaryCopy) int32(v int32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	c.buf.Write(b[:])
}

func (c *binaryCopy) null() { c.int32(-1) }

func (c *binaryCopy) int4(v int32) {
	c.int32(4)
	c.int32(v)
}

func (c *binaryCopy) int64(v int64) {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], 8)
	binary.BigEndian.PutUint64(b[4:], uint64(v))
	c.buf.Write(b[:])
}

func (c *binaryCopy) text(s string) {
	c.int32(int32(len(s)))
	c.buf.WriteString(s)
}

func (c *binaryCopy) textPtr(s *string) {
	if s == nil {
		c.null()
		return
	}
	c.text(*s)
}

func (c *binaryCopy) bytea(b []byte) {
	if b == nil {
		c.null()
		return
	}
	c.int32(int32(len(b)))
	c.buf.Write(b)
}

func (c *binaryCopy) boolPtr(v *bool) {
	if v == nil {
		c.null()
		return
	}
	c.int32(1)
	if *v {
		c.buf.WriteByte(1)
	} else {
		c.buf.WriteByte(0)
	}
}

func (c *binaryCopy) timestamptz(t time.Time) {
	c.int64(t.Sub(pgEpoch).Microseconds())
}

func (c *binaryCopy) timestamptzPtr(t *time.Time) {
	if t == nil {
		c.null()
		return
	}
	c.timestamptz(*t)
}

// textArray writes a one-dimensional text[] (an empty one for nil: the columns are NOT NULL).
func (c *binaryCopy) textArray(items []string) {
	size := 12
	if len(items) > 0 {
		size += 8
	}
	for _, s := range items {
		size += 4 + len(s)
	}
	c.int32(int32(size))
	if len(items) == 0 {
		c.int32(0) // dimensions
		c.int32(0) // no NULL elements
		c.int32(textOID)
		return
	}
	c.int32(1)
	c.int32(0)
	c.int32(textOID)
	c.int32(int32(len(items)))
	c.int32(1) // lower bound
	for _, s := range items {
		c.text(s)
	}
}

// send ends the stream and copies it into table's columns on conn (inside the caller's
// transaction). It returns the number of rows copied.
func (c *binaryCopy) send(ctx context.Context, conn *pgconn.PgConn, table string, columns []string) (int64, error) {
	c.int16(-1)
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, strings.Join(columns, ", "))
	tag, err := conn.CopyFrom(ctx, bytes.NewReader(c.buf.Bytes()), sql)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
