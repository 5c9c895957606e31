package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// Page links read while streaming one page.
type pageLinks struct {
	NextLink  string
	DeltaLink string
	Items     int
}

// errStopped reports that the consumer stopped the iteration.
var errStopped = errors.New("iteration stopped by the consumer")

// decodePage streams one collection page from r: every element of the "value" array is handed to
// each as soon as it is decoded, so at most one item is held at a time however large the page is.
// @odata.nextLink and @odata.deltaLink may come before or after "value". Other properties
// (@odata.context, @odata.count, ...) are skipped. A page must be one JSON object with a "value"
// array; anything else, including a truncated body, is an error (the caller classifies it as
// provider_malformed_response). item decodes exactly one element from dec; it returning false stops
// decoding with errStopped, an error ends the page. early, when not nil, gets an @odata.nextLink
// that comes before the value array as soon as it is read.
func decodePage(r io.Reader, item func(dec *json.Decoder) (bool, error), early func(nextLink string)) (pageLinks, error) {
	var links pageLinks
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return links, fmt.Errorf("page is not a JSON object: %w", err)
	}
	sawValue := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return links, fmt.Errorf("error reading a page property name: %w", err)
		}
		key, _ := tok.(string)
		switch key {
		case "value":
			if sawValue {
				return links, errors.New("page has two value arrays")
			}
			sawValue = true
			if err := expectDelim(dec, '['); err != nil {
				return links, fmt.Errorf("page value is not an array: %w", err)
			}
			for dec.More() {
				more, err := item(dec)
				if err != nil {
					return links, fmt.Errorf("error decoding item %d: %w", links.Items, err)
				}
				links.Items++
				if !more {
					return links, errStopped
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return links, fmt.Errorf("error closing the value array: %w", err)
			}
		case "@odata.nextLink", "@odata.deltaLink":
			var link string
			if err := dec.Decode(&link); err != nil {
				return links, fmt.Errorf("error decoding %s: %w", key, err)
			}
			if key == "@odata.nextLink" {
				links.NextLink = link
				if early != nil && !sawValue {
					early(link)
				}
			} else {
				links.DeltaLink = link
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return links, fmt.Errorf("error decoding page property %q: %w", key, err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return links, fmt.Errorf("error closing the page: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return links, errors.New("trailing data after the page")
	}
	if !sawValue {
		return links, errors.New("page has no value array")
	}
	if links.NextLink != "" && links.DeltaLink != "" {
		return links, errors.New("page has both @odata.nextLink and @odata.deltaLink")
	}
	return links, nil
}

// rawItems hands each element to each as raw JSON.
func rawItems(each func(json.RawMessage) bool) func(*json.Decoder) (bool, error) {
	return func(dec *json.Decoder) (bool, error) {
		var item json.RawMessage // a fresh slice per item: consumers may keep it
		if err := dec.Decode(&item); err != nil {
			return false, err
		}
		return each(item), nil
	}
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, tok)
	}
	return nil
}

// List streams every item of a collection contract (list, children, assignments, probe), following
// @odata.nextLink to the end. Items are yielded as they are decoded from the response body, so
// memory stays constant whatever the collection size; nothing accumulates across pages.
//
// The sequence ends after the last item, or after one non-nil error (a classified *Error). Items
// yielded before an error are genuine but the listing is incomplete: never treat a listing as
// complete unless the loop ended without an error. Breaking out of the loop closes the response.
func (c *Client) List(ctx context.Context, contract string, args []string, q *Query) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		ct, u, err := c.resolveList(contract, args, q)
		if err != nil {
			yield(nil, err)
			return
		}
		if err := c.walk(ctx, ct, u, rawItems(func(raw json.RawMessage) bool { return yield(raw, nil) })); err != nil {
			yield(nil, err)
		}
	}
}

// ItemError is an element of a listing that does not fit the type ListAs decodes into (a property
// of an unexpected JSON type). The listing goes on after it.
type ItemError struct {
	Contract string
	Index    int // position in the listing
	Err      error
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("graph %s: item %d does not decode: %v", e.Contract, e.Index, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// ListAs is List decoding each element straight into a T as it is read: one pass over the bytes
// instead of a copy and a second parse. An element that does not fit T is yielded with an
// *ItemError and the listing goes on; any other error ends the sequence, as with List.
func ListAs[T any](ctx context.Context, c *Client, contract string, args []string, q *Query) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		ct, u, err := c.resolveList(contract, args, q)
		if err != nil {
			yield(zero, err)
			return
		}
		index := 0
		err = c.walk(ctx, ct, u, func(dec *json.Decoder) (bool, error) {
			var item T
			err := dec.Decode(&item)
			index++
			var mismatch *json.UnmarshalTypeError
			if errors.As(err, &mismatch) {
				return yield(zero, &ItemError{Contract: ct.Name, Index: index - 1, Err: err}), nil
			}
			if err != nil {
				return false, err
			}
			return yield(item, nil), nil
		})
		if err != nil {
			yield(zero, err)
		}
	}
}

func (c *Client) resolveList(contract string, args []string, q *Query) (*Contract, *url.URL, error) {
	ct, u, err := c.resolve(contract, args, q)
	if err != nil {
		return nil, nil, err
	}
	if ct.Method != http.MethodGet || ct.Kind == KindGet || ct.Kind == KindDelta {
		return nil, nil, &Error{Contract: contract, Reason: reason.InternalError, Err: fmt.Errorf("List needs a collection contract, %s is %s", contract, ct.Kind)}
	}
	return ct, u, nil
}

// ListLink continues a listing from an @odata.nextLink (for instance one found in a $batch
// sub-response), with the same semantics as List.
func (c *Client) ListLink(ctx context.Context, contract, nextLink string) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		ct, ok := Lookup(contract)
		if !ok {
			yield(nil, &Error{Contract: contract, Reason: reason.InternalError, Err: errors.New("no such contract in the registry")})
			return
		}
		u, err := c.parseLink(&ct, nextLink)
		if err != nil {
			yield(nil, err)
			return
		}
		if err := c.walk(ctx, &ct, u, rawItems(func(raw json.RawMessage) bool { return yield(raw, nil) })); err != nil {
			yield(nil, err)
		}
	}
}

// walk follows a listing's pages from u to the end, handing every element to item. It returns nil
// at the end or when item asked to stop, else a classified *Error.
func (c *Client) walk(ctx context.Context, ct *Contract, u *url.URL, item func(*json.Decoder) (bool, error)) error {
	p := c.newPager(ctx, ct)
	defer p.close()
	for u != nil {
		links, stopped, err := p.page(u, item)
		if stopped {
			return nil
		}
		if err != nil {
			return err
		}
		if links.DeltaLink != "" {
			return &Error{Contract: ct.Name, Reason: reason.ProviderMalformedResponse, Err: errors.New("unexpected @odata.deltaLink on a list page")}
		}
		u = nil
		if links.NextLink != "" {
			if u, err = c.parseLink(ct, links.NextLink); err != nil {
				return err
			}
		}
	}
	return nil
}

// pager reads the pages of one listing in order. When a page names its next page before its items
// (Graph's directory endpoints do), the next page is requested at once: Graph's latency for it
// overlaps with reading, and storing, this one. At most one page is requested ahead, so a listing
// never has more than two requests in flight.
type pager struct {
	c      *Client
	ct     *Contract
	ctx    context.Context
	cancel context.CancelFunc
	ahead  *prefetch
}

// prefetch is a page requested ahead of its turn.
type prefetch struct {
	url  string
	done chan struct{}
	resp *http.Response
	err  error
}

func (c *Client) newPager(ctx context.Context, ct *Contract) *pager {
	ctx, cancel := context.WithCancel(ctx)
	return &pager{c: c, ct: ct, ctx: ctx, cancel: cancel}
}

// close abandons a page requested ahead that nobody will read.
func (p *pager) close() {
	p.cancel()
	p.discard()
}

func (p *pager) discard() {
	if p.ahead == nil {
		return
	}
	<-p.ahead.done
	if p.ahead.resp != nil {
		_ = p.ahead.resp.Body.Close()
	}
	p.ahead = nil
}

// page fetches (or takes the prefetched) page u and streams its elements to item. stopped reports
// that item asked to stop.
func (p *pager) page(u *url.URL, item func(*json.Decoder) (bool, error)) (pageLinks, bool, error) {
	var resp *http.Response
	var err error
	if p.ahead != nil && p.ahead.url == u.String() {
		<-p.ahead.done
		resp, err = p.ahead.resp, p.ahead.err
		p.ahead = nil
	} else {
		p.discard()
		resp, err = p.c.do(p.ctx, request{contract: p.ct, method: http.MethodGet, url: u})
	}
	if err != nil {
		return pageLinks{}, false, err
	}
	defer resp.Body.Close()
	links, err := decodePage(resp.Body, item, func(next string) {
		nu, err := p.c.parseLink(p.ct, next)
		if err != nil || p.ahead != nil {
			return // a bad link is reported when the page ends; a second link is malformed, reported too
		}
		ahead := &prefetch{url: nu.String(), done: make(chan struct{})}
		go func() {
			defer close(ahead.done)
			ahead.resp, ahead.err = p.c.do(p.ctx, request{contract: p.ct, method: http.MethodGet, url: nu})
		}()
		p.ahead = ahead
	})
	if errors.Is(err, errStopped) {
		return links, true, nil
	}
	if err != nil {
		return links, false, classifyDecodeError(err, resp.StatusCode, p.ct)
	}
	return links, false, nil
}

// parseLink validates a server-provided link: absolute, and on the configured Graph origin (a
// token is never sent anywhere else).
func (c *Client) parseLink(ct *Contract, link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() {
		return nil, &Error{Contract: ct.Name, Reason: reason.ProviderMalformedResponse, Err: fmt.Errorf("invalid paging link %q", truncate(link, 120))}
	}
	if !sameOrigin(u, c.graphURL) {
		return nil, &Error{Contract: ct.Name, Reason: reason.ProviderMalformedResponse,
			Err: fmt.Errorf("paging link points to %s, not the configured Graph host", u.Host)}
	}
	return u, nil
}
