package graph

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// newPipeline returns the kiota middleware list, in an explicit order. kiota's
// GetDefaultMiddlewares builds its list from a map, so its order is random, and whenever Retry
// runs before Compression a retried POST goes out as "Content-Encoding: gzip" over a plain body
// (docs/graph.md#http-pipeline, microsoft/kiota-http-go#183). Here:
//
//  1. Compression (gzipHandler): gzips the body once and replaces it with a seekable reader;
//  2. Retry: 429/503/504 with Retry-After honoured, rewinding that same gzip body; ShouldRetry is
//     always set (kiota panics on nil) and draws every wait from the run's RetryBudget;
//  3. rate limit: each attempt, retries included, takes a token from the tenant's buckets;
//  4. Redirect (drops Authorization across hosts), parameter-name decoding, User-Agent.
//
// Headers inspection is left out: nothing reads it.
func (c *Client) newPipeline() []khttp.Middleware {
	retry := khttp.RetryHandlerOptions{
		MaxRetries:   c.cfg.Retry.MaxRetries,
		DelaySeconds: c.cfg.Retry.DelaySeconds,
		ShouldRetry:  c.shouldRetry,
	}
	ua := khttp.NewUserAgentHandlerOptions()
	ua.ProductName = c.cfg.UserAgent
	ua.ProductVersion = "1"
	return []khttp.Middleware{
		gzipHandler{},
		khttp.NewRetryHandlerWithOptions(retry),
		rateLimitHandler{limiter: c.limiter},
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandlerWithOptions(ua),
	}
}

// shouldRetry is kiota's ShouldRetry callback. kiota calls it only for a retriable status
// (429, 503, 504) below MaxRetries; returning true commits to the retry. It reserves the coming
// wait from the request's RetryBudget and refuses when it does not fit, so the throttled response
// goes back to the caller. On true it drains and closes the discarded response, which kiota
// would otherwise leak.
func (c *Client) shouldRetry(_ time.Duration, executionCount int, req *http.Request, resp *http.Response) bool {
	budget, ok := RetryBudgetFrom(req.Context())
	if !ok {
		return false
	}
	if !budget.reserve(retryDelay(resp, executionCount+1, c.cfg.Retry.DelaySeconds)) {
		if c.cfg.Observer != nil {
			c.cfg.Observer.BudgetExhausted(familyOf(req.Context()))
		}
		return false
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer.Retry(familyOf(req.Context()), resp.StatusCode)
	}
	if resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}
	return true
}

// retryDelay predicts kiota's wait before attempt n (1-based): Retry-After in whole seconds
// (kiota truncates fractions) or an HTTP date, else DelaySeconds*2^(n-1) plus up to 1 s of jitter
// (counted as a full second).
func retryDelay(resp *http.Response, n, delaySeconds int) time.Duration {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(secs) * time.Second
		}
		if t, err := time.Parse(time.RFC1123, v); err == nil {
			return max(0, time.Until(t))
		}
	}
	return time.Duration(delaySeconds*(1<<max(0, n-1)))*time.Second + time.Second
}

// gzipHandler is kiota's CompressionHandler (kiota-http-go compression_handler.go) with its gzip
// writers reused: the same bytes on the wire — a request body gzipped at the default level with
// Content-Encoding: gzip, unless it has none, already has a Content-Encoding or is a byte range,
// and sent again uncompressed when the service answers 415 — without kiota's gzip.NewWriter per
// request, whose compressor state (about 800 KB) was most of the engine's allocations and a
// third of the compression's CPU in the fleet night (BENCHMARKS.md). It reads no request
// option: TenantAtlas never turns compression off per request.
type gzipHandler struct{}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

func (gzipHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if _, encoded := req.Header["Content-Encoding"]; encoded || req.Body == nil || byteRange(req.Header) {
		return p.Next(req, i)
	}
	plain, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	_ = req.Body.Close()
	plainLength := req.ContentLength
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, err = zw.Write(plain)
	if err == nil {
		err = zw.Close()
	}
	zw.Reset(io.Discard) // keeps no reference to buf
	gzipWriters.Put(zw)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Body = khttp.NopCloser(bytes.NewReader(buf.Bytes())) // seekable: the retry handler rewinds it
	req.ContentLength = int64(buf.Len())
	resp, err := p.Next(req, i)
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	req.Header.Del("Content-Encoding")
	req.Body = khttp.NopCloser(bytes.NewReader(plain))
	req.ContentLength = plainLength
	return p.Next(req, i)
}

// byteRange reports a Content-Range in bytes, which kiota's handler leaves uncompressed.
func byteRange(h http.Header) bool {
	for _, v := range h.Values("Content-Range") {
		if strings.Contains(strings.ToLower(v), "bytes") {
			return true
		}
	}
	return false
}
