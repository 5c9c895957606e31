package graphsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// cursor is the state behind an opaque $skiptoken or $deltatoken. Clients never build these
// (docs/graph.md#paging); the simulator only has to read its own.
type cursor struct {
	Kind   string `json:"k"`           // "list", "full" (delta enumeration), "chg" (delta changes), "delta" (a deltaLink)
	Offset int    `json:"o,omitempty"` // items already returned
	From   int64  `json:"f,omitempty"` // delta: changes after this version
	To     int64  `json:"t,omitempty"` // delta: version the round ends at
	Gen    int    `json:"g,omitempty"` // delta-token generation (expiry)
	Select string `json:"s,omitempty"` // delta: $select of the first call
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, fmt.Errorf("invalid token: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("invalid token: %w", err)
	}
	return c, nil
}

// linkWith returns the request URL with $skiptoken/$deltatoken set to token and other OData
// parameters kept (or dropped when keep is false, as Graph does for delta links).
func linkWith(req *simRequest, param, token string, keep bool) string {
	q := url.Values{}
	if keep {
		for k, v := range req.query {
			if k != "$skiptoken" && k != "$deltatoken" {
				q[k] = v
			}
		}
	}
	q.Set(param, token)
	enc := strings.NewReplacer("%24", "$", "%2C", ",", "+", "%20").Replace(q.Encode())
	return req.base + "/" + string(req.version) + req.path + "?" + enc
}

// pageSize reads $top: def when absent; above max is capped, or rejected when strict (groups).
func pageSize(q url.Values, def, max int, strict bool) (int, error) {
	v := q.Get("$top")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || (strict && n > max) {
		return 0, fmt.Errorf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, max) //nolint:staticcheck // ST1005: Graph's message, verbatim
	}
	return min(n, max), nil
}

// selection parses $select; nil means all properties.
func selection(raw string) map[string]bool {
	if raw == "" {
		return nil
	}
	out := map[string]bool{}
	for _, f := range strings.Split(raw, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out[f] = true
		}
	}
	return out
}

// pageBuffer assembles one collection page. Its item buffer is pooled: a page of 999 groups is
// about half a megabyte, and a large listing asks for a thousand of them.
type pageBuffer struct {
	contextURL string
	items      *bytes.Buffer
	n          int
	// linksLast puts the links after the value array, as Intune's documented (beta) bodies do.
	linksLast bool
}

var pageItems = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newPage(contextURL string) *pageBuffer {
	items := pageItems.Get().(*bytes.Buffer)
	items.Reset()
	return &pageBuffer{contextURL: contextURL, items: items}
}

func (p *pageBuffer) add(item []byte) {
	if p.n > 0 {
		p.items.WriteByte(',')
	}
	p.items.Write(item)
	p.n++
}

// finish writes the page and returns its buffer to the pool. Directory endpoints send their
// annotations first — @odata.context, then @odata.nextLink or @odata.deltaLink — and the value
// array last, so a client can request the next page before it has read this one; with linksLast
// the links follow the array.
func (p *pageBuffer) finish(w http.ResponseWriter, nextLink, deltaLink string) {
	defer pageItems.Put(p.items)
	var links string
	if nextLink != "" {
		links += `,"@odata.nextLink":` + quote(nextLink)
	}
	if deltaLink != "" {
		links += `,"@odata.deltaLink":` + quote(deltaLink)
	}
	head := `{"@odata.context":` + quote(p.contextURL)
	tail := "]"
	if p.linksLast {
		tail += links
	} else {
		head += links
	}
	head += `,"value":[`
	tail += "}"
	writeParts(w, http.StatusOK, []byte(head), p.items.Bytes(), []byte(tail))
}

// project returns obj restricted to sel (plus @odata.type, which OData always sends for derived
// types), encoded.
func project(obj map[string]any, sel map[string]bool) []byte {
	if sel != nil {
		out := make(map[string]any, len(sel)+1)
		for k := range sel {
			if v, ok := obj[k]; ok {
				out[k] = v
			}
		}
		if t, ok := obj["@odata.type"]; ok {
			out["@odata.type"] = t
		}
		obj = out
	}
	b, _ := json.Marshal(obj)
	return b
}

// writeSlice answers a collection read over objects with offset paging.
func (s *Server) writeSlice(w http.ResponseWriter, req *simRequest, objs []map[string]any, def, max int, contextURL string) {
	size, err := pageSize(req.query, def, max, false)
	if err != nil {
		s.graphError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	offset := 0
	if tok := req.query.Get("$skiptoken"); tok != "" {
		c, err := decodeCursor(tok)
		if err != nil || c.Kind != "list" {
			s.graphError(w, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
		offset = c.Offset
	}
	sel := selection(req.query.Get("$select"))
	page := newPage(contextURL)
	page.linksLast = strings.Contains(contextURL, "/beta/")
	end := min(len(objs), offset+size)
	for i := offset; i < end; i++ {
		page.add(project(objs[i], sel))
	}
	next := ""
	if end < len(objs) {
		next = linkWith(req, "$skiptoken", encodeCursor(cursor{Kind: "list", Offset: end}), true)
	}
	page.finish(w, next, "")
}
