package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// BatchSize is Graph's limit of sub-requests per $batch.
const BatchSize = 20

// BatchRequest is one sub-request of Batch.
type BatchRequest struct {
	// ID identifies the sub-request in the results; empty means its index.
	ID string
	// Contract, Args and Query select the call as for Get/Post; Body is the payload of writes.
	Contract string
	Args     []string
	Query    *Query
	Body     any
}

// BatchResponse is the outcome of one sub-request.
type BatchResponse struct {
	ID     string
	Status int
	// Body is the sub-response body (nil for 204). A list read carries one page: continue it with
	// ListLink(NextLink()).
	Body json.RawMessage
	// Err is a classified *Error for a failed sub-request (status >= 400, or still throttled when
	// the retry budget ran out).
	Err error
}

// NextLink returns the @odata.nextLink of a page-shaped Body, if any.
func (r BatchResponse) NextLink() string {
	var p struct {
		NextLink string `json:"@odata.nextLink"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.NextLink
}

type batchEnvelope struct {
	Requests []batchSub `json:"requests"`
}

type batchSub struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

type batchResult struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// Batch sends reqs through JSON $batch, BatchSize sub-requests per envelope (one envelope per API
// version), and returns one response per request in input order.
//
// The envelope answers 200 while sub-requests can fail on their own; sub-requests answered 429
// (or 503/504) are re-queued and sent again after the longest Retry-After among them (else the
// exponential backoff), each wait drawn from the context's RetryBudget. When the budget refuses a
// wait, those sub-requests keep their throttled response with Err wrapping
// ErrRetryBudgetExhausted. The tenant rate limiter charges an envelope as many requests as it
// carries. The returned error is for the whole call (an envelope that failed or could not be
// decoded, or a cancelled context); per-request failures are in BatchResponse.Err.
func (c *Client) Batch(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	if _, ok := RetryBudgetFrom(ctx); !ok {
		ctx = WithRetryBudget(ctx, NewRetryBudget(c.cfg.Retry.Budget))
	}
	out := make([]BatchResponse, len(reqs))
	type prepared struct {
		index    int
		contract *Contract
		sub      batchSub
	}
	byVersion := map[APIVersion][]prepared{}
	var versions []APIVersion
	seen := map[string]bool{}
	for i, r := range reqs {
		id := r.ID
		if id == "" {
			id = strconv.Itoa(i)
		}
		if seen[id] {
			return nil, &Error{Contract: r.Contract, Reason: reason.InternalError, Err: fmt.Errorf("duplicate batch request id %q", id)}
		}
		seen[id] = true
		out[i].ID = id
		ct, u, err := c.resolve(r.Contract, r.Args, r.Query)
		if err != nil {
			return nil, err
		}
		sub := batchSub{ID: id, Method: ct.Method, URL: strings.TrimPrefix(u.RequestURI(), c.graphURL.Path+"/"+string(ct.Version))}
		if ct.Method != http.MethodGet {
			body, err := encodeBody(r.Body)
			if err != nil {
				return nil, &Error{Contract: r.Contract, Reason: reason.InternalError, Err: err}
			}
			sub.Body = body
			sub.Headers = map[string]string{"Content-Type": "application/json"}
		}
		if _, ok := byVersion[ct.Version]; !ok {
			versions = append(versions, ct.Version)
		}
		byVersion[ct.Version] = append(byVersion[ct.Version], prepared{index: i, contract: ct, sub: sub})
	}
	for _, v := range versions {
		items := byVersion[v]
		for start := 0; start < len(items); start += BatchSize {
			chunk := items[start:min(start+BatchSize, len(items))]
			pending := make(map[string]prepared, len(chunk))
			for _, p := range chunk {
				pending[p.sub.ID] = p
			}
			for attempt := 1; len(pending) > 0; attempt++ {
				subs := make([]batchSub, 0, len(pending))
				for _, p := range chunk {
					if _, ok := pending[p.sub.ID]; ok {
						subs = append(subs, p.sub)
					}
				}
				res, err := c.sendBatch(ctx, v, subs)
				if err != nil {
					return nil, err
				}
				var wait time.Duration
				throttled := false
				retry := map[string]prepared{}
				for _, r := range res.Responses {
					p, ok := pending[r.ID]
					if !ok {
						continue
					}
					resp := BatchResponse{ID: r.ID, Status: r.Status}
					if len(r.Body) > 0 && string(r.Body) != "null" {
						resp.Body = r.Body
					}
					if r.Status >= 400 {
						h := http.Header{}
						for k, val := range r.Headers {
							h.Set(k, val)
						}
						e := ClassifyResponse(r.Status, h, r.Body, p.contract)
						resp.Err = e
						if r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout {
							retry[r.ID] = p
							throttled = throttled || r.Status == http.StatusTooManyRequests
							d := e.RetryAfter
							if d <= 0 {
								d = time.Duration(c.cfg.Retry.DelaySeconds*(1<<min(attempt-1, 6))) * time.Second
							}
							wait = max(wait, d)
						}
					}
					out[p.index] = resp
					delete(pending, r.ID)
				}
				for id, p := range pending { // the service left it unanswered
					out[p.index] = BatchResponse{ID: id, Err: &Error{Contract: p.contract.Name, Reason: reason.ProviderMalformedResponse,
						Err: errors.New("$batch response has no entry for this request")}}
				}
				pending = retry
				if len(pending) == 0 {
					break
				}
				if throttled {
					_ = c.limiter.Hold(ctx, wait) // every request of the tenant waits, as for a throttled single request
				}
				budget, _ := RetryBudgetFrom(ctx)
				fits := attempt <= c.cfg.Retry.MaxRetries && budget.reserve(wait)
				if obs := c.cfg.Observer; obs != nil {
					for _, p := range pending {
						status := 0
						if e, ok := out[p.index].Err.(*Error); ok {
							status = e.Status
						}
						if fits {
							obs.Retry(p.contract.Family, status)
						} else if budget.Exhausted() {
							obs.BudgetExhausted(p.contract.Family)
						}
					}
				}
				if !fits {
					for _, p := range pending {
						if e, ok := out[p.index].Err.(*Error); ok && budget.Exhausted() {
							e.Err = ErrRetryBudgetExhausted
						}
					}
					break
				}
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, classifyTransportError(ctx.Err(), nil)
				case <-t.C:
				}
			}
		}
	}
	return out, nil
}

// batchContract is the pseudo-contract of the envelope itself (permissions are checked per
// sub-request by the service).
var batchContract = Contract{Name: "$batch", Method: http.MethodPost, Kind: KindAction}

func (c *Client) sendBatch(ctx context.Context, v APIVersion, subs []batchSub) (*batchResult, error) {
	body, err := json.Marshal(batchEnvelope{Requests: subs})
	if err != nil {
		return nil, &Error{Contract: "$batch", Reason: reason.InternalError, Err: err}
	}
	u, err := url.Parse(c.cfg.GraphURL + "/" + string(v) + "/$batch")
	if err != nil {
		return nil, &Error{Contract: "$batch", Reason: reason.InternalError, Err: err}
	}
	cost := requestCost{}
	for _, s := range subs {
		if isWriteMethod(s.Method) {
			cost.writes++
		} else {
			cost.reads++
		}
	}
	ct := batchContract
	resp, err := c.do(withRequestCost(ctx, cost), request{contract: &ct, method: http.MethodPost, url: u, body: body})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxObjectBytes))
	if err != nil {
		return nil, classifyDecodeError(fmt.Errorf("error reading the $batch response: %w", err), resp.StatusCode, &ct)
	}
	var res batchResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, classifyDecodeError(fmt.Errorf("error decoding the $batch response: %w", err), resp.StatusCode, &ct)
	}
	return &res, nil
}
