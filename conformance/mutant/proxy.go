package mutant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/encoderlab/encoderlab/conformance"
)

// maxBody bounds every body the proxy reads, request or answer.
const maxBody = 4 << 20

// rewrite is how a mutant breaks the pipeline. Each hook is optional.
type rewrite struct {
	// request changes a request's header before it is passed on.
	request func(h http.Header)
	// body changes a request's JSON object body before it is passed on.
	body func(path string, doc map[string]any)
	// response changes an answer before it goes back to the client.
	response func(x *exchange)
	// twice reports whether a request is sent to the pipeline a second
	// time after its answer came back (the second answer is dropped).
	twice func(method, path string) bool
}

// exchange is one answer on its way back, with the request it answers.
type exchange struct {
	Method, Path string
	Status       int
	Header       http.Header
	// Doc is the answer's JSON object, nil when the body is not one.
	// The proxy encodes it again after response has changed it.
	Doc map[string]any
}

// env is what a mutant's state is built from at each start.
type env = conformance.Env

// proxied returns a target that starts the real in-process pipeline and
// serves it through a proxy applying the rewrite newRewrite builds. A
// rewrite is built per system so a stateful mutant (one that remembers
// attempts) starts afresh with each.
func proxied(newRewrite func(env) rewrite) conformance.Target {
	return target{newRewrite: newRewrite}
}

type target struct {
	newRewrite func(env) rewrite
}

func (t target) Start(ctx context.Context, e conformance.Env) (conformance.System, error) {
	real, err := conformance.InProcess().Start(ctx, e)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("mutant proxy: listening on loopback: %w", err), real.Close())
	}
	p := &proxy{
		upstream: real.URL(),
		client:   &http.Client{Timeout: time.Minute},
		rw:       t.newRewrite(e),
	}
	s := &system{real: real, srv: &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String(), served: make(chan struct{})}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // ends with http.ErrServerClosed on Close
	}()
	return s, nil
}

// system is a running mutant: the real pipeline and the proxy before it.
type system struct {
	real   conformance.System
	srv    *http.Server
	url    string
	served chan struct{}
}

func (s *system) URL() string { return s.url }

// Close stops the proxy, then the pipeline behind it.
func (s *system) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.served
	if err != nil {
		err = fmt.Errorf("mutant proxy: shutting down: %w", err)
	}
	return errors.Join(err, s.real.Close())
}

// proxy passes each request to the pipeline and its answer back, through
// the mutant's rewrite. Every JSON answer is decoded and encoded again,
// rewritten or not, so the control run shows that this round trip alone
// breaks nothing.
type proxy struct {
	upstream string
	client   *http.Client
	rw       rewrite
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "mutant proxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	h := r.Header.Clone()
	// The pipeline's answer must reach the rewrite as plain JSON.
	h.Del("Accept-Encoding")
	if p.rw.request != nil {
		p.rw.request(h)
	}
	if doc := object(body); p.rw.body != nil && doc != nil {
		p.rw.body(r.URL.Path, doc)
		if body, err = json.Marshal(doc); err != nil {
			http.Error(w, "mutant proxy: encoding the request: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	status, header, answer, err := p.forward(r, h, body)
	if err != nil {
		http.Error(w, "mutant proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if p.rw.twice != nil && p.rw.twice(r.Method, r.URL.Path) {
		if _, _, _, err := p.forward(r, h, body); err != nil {
			http.Error(w, "mutant proxy: sending again: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	x := &exchange{Method: r.Method, Path: r.URL.Path, Status: status, Header: header, Doc: object(answer)}
	if x.Doc != nil {
		if p.rw.response != nil {
			p.rw.response(x)
		}
		if answer, err = json.Marshal(x.Doc); err != nil {
			http.Error(w, "mutant proxy: encoding the answer: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	x.Header.Del("Content-Length")
	for k, vs := range x.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(x.Status)
	_, _ = w.Write(answer) // the client went away; nothing to tell it
}

// forward sends one request to the pipeline and reads its whole answer.
func (p *proxy) forward(r *http.Request, h http.Header, body []byte) (int, http.Header, []byte, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("building the request to the pipeline: %w", err)
	}
	out.Header = h
	res, err := p.client.Do(out)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("asking the pipeline: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the pipeline's answer: %w", err)
	}
	return res.StatusCode, res.Header.Clone(), answer, nil
}

// object decodes a JSON object, keeping numbers as written; nil if b is
// not one.
func object(b []byte) map[string]any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || d.More() {
		return nil
	}
	return m
}
