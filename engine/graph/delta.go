package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// DeltaItem is one entry of a delta round.
type DeltaItem struct {
	// ID is the object id.
	ID string
	// Removed is set for "@removed" entries: the object was deleted ("deleted") or left the
	// scope of the query ("changed"); RemovedReason carries Graph's reason.
	Removed       bool
	RemovedReason string
	// Raw is the entry as Graph sent it (for a change: the changed object with the $select of the
	// first call).
	Raw json.RawMessage
}

// deltaEntry is the part of an entry the client interprets.
type deltaEntry struct {
	ID      string `json:"id"`
	Removed *struct {
		Reason string `json:"reason"`
	} `json:"@removed"`
}

// decodeDeltaItem interprets one raw delta entry. An entry without an id is malformed.
func decodeDeltaItem(raw json.RawMessage) (DeltaItem, error) {
	var e deltaEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return DeltaItem{}, fmt.Errorf("error decoding a delta entry: %w", err)
	}
	if e.ID == "" {
		return DeltaItem{}, errors.New("delta entry has no id")
	}
	it := DeltaItem{ID: e.ID, Raw: raw}
	if e.Removed != nil {
		it.Removed, it.RemovedReason = true, e.Removed.Reason
		if it.RemovedReason == "" {
			it.RemovedReason = "deleted"
		}
	}
	return it, nil
}

// Delta runs one delta round of a delta contract ("groups.delta") and returns the new deltaLink
// to store for the next round.
//
// With deltaLink empty the round starts from scratch (query parameters from the contract and q:
// Graph encodes them into the tokens, so they apply only to this first call) and enumerates every
// object; otherwise it resumes from the stored link and yields only the changes since. fn gets
// every entry in order, "@removed" entries included; pages are followed through @odata.nextLink
// until a page carries @odata.deltaLink. Memory stays constant: entries are streamed.
//
// Errors: an expired or unknown sync state (400/410 syncStateNotFound / resyncRequired) returns
// an *Error wrapping ErrDeltaExpired — drop the stored link and run a full sync. An error from fn
// stops the round and is returned wrapped. On any error the stored link must stay unchanged; the
// entries already handed to fn are genuine and applying them again on the retried round is safe.
func (c *Client) Delta(ctx context.Context, contract, deltaLink string, q *Query, fn func(DeltaItem) error) (string, error) {
	ct, u, err := c.resolve(contract, nil, q)
	if err != nil {
		return "", err
	}
	if ct.Kind != KindDelta {
		return "", &Error{Contract: contract, Reason: reason.InternalError, Err: fmt.Errorf("%s is not a delta contract", contract)}
	}
	if deltaLink != "" {
		if u, err = c.parseLink(ct, deltaLink); err != nil {
			return "", err
		}
	}
	var fnErr error
	each := func(raw json.RawMessage) bool {
		it, err := decodeDeltaItem(raw)
		if err != nil {
			fnErr = &Error{Contract: ct.Name, Reason: reason.ProviderMalformedResponse, Err: err}
			return false
		}
		if err := fn(it); err != nil {
			fnErr = fmt.Errorf("error handling delta entry %s: %w", it.ID, err)
			return false
		}
		return true
	}
	p := c.newPager(ctx, ct)
	defer p.close()
	for {
		links, stopped, err := p.page(u, rawItems(each))
		if stopped {
			return "", fnErr
		}
		if err != nil {
			return "", err
		}
		switch {
		case links.DeltaLink != "":
			if _, err := c.parseLink(ct, links.DeltaLink); err != nil {
				return "", err
			}
			return links.DeltaLink, nil
		case links.NextLink != "":
			if u, err = c.parseLink(ct, links.NextLink); err != nil {
				return "", err
			}
		default:
			return "", &Error{Contract: ct.Name, Reason: reason.ProviderMalformedResponse,
				Err: errors.New("delta page has neither @odata.nextLink nor @odata.deltaLink")}
		}
	}
}

// DeltaLatest asks for a deltaLink that starts from now ($deltatoken=latest), skipping the initial
// enumeration: "sync from now" after a full list.
func (c *Client) DeltaLatest(ctx context.Context, contract string, q *Query) (string, error) {
	q2 := Query{}
	if q != nil {
		q2 = *q
	}
	extra := map[string]string{"$deltatoken": "latest"}
	for k, v := range q2.Extra {
		extra[k] = v
	}
	q2.Extra = extra
	return c.Delta(ctx, contract, "", &q2, func(DeltaItem) error { return nil })
}
