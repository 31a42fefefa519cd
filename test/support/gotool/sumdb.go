package main

// sumdb-server: golang.org/x/mod/sumdb's test server (a real signed
// transparency log) answering for the modules of a build-tree directory, so
// the go command can verify downloads against a checksum database with no
// network.
//
// Identifiers in this file start with "sumdb" because package main is shared
// with the other helper commands.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

const sumdbName = "sum.modgate.test"

func init() {
	register("sumdb-server", "<addr> <outdir> -> JSON line {addr, name, vkey}, then a JSON line {method, path} per request; serves until stdin closes", sumdbServe)
}

func sumdbServe(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want <addr> <outdir>")
	}
	addr, dir := args[0], args[1]
	skey, vkey, err := note.GenerateKey(rand.Reader, sumdbName)
	if err != nil {
		return err
	}
	sums, err := sumdbNewSums(dir)
	if err != nil {
		return err
	}
	out := &sumdbOut{enc: json.NewEncoder(os.Stdout)}
	srv := sumdb.NewServer(sumdb.NewTestServer(skey, sums.gosum))

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Serve the database at the root of the URL: /lookup/..., /tile/...,
	// /latest, which is what GOSUMDB="<vkey> <url>" expects.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Logged before answering, so a test that has seen the go command
		// exit has also (in pipe order) been told about its requests. The
		// decoded path, like upstream-server.ts records.
		out.write(map[string]string{"method": r.Method, "path": r.URL.Path})
		srv.ServeHTTP(w, r)
	})
	go func() {
		if err := http.Serve(l, handler); err != nil {
			fmt.Fprintf(os.Stderr, "gotool sumdb-server: %v\n", err)
			os.Exit(1)
		}
	}()
	out.write(map[string]string{"addr": l.Addr().String(), "name": sumdbName, "vkey": vkey})

	// The parent holds our stdin open; when it exits (even by crashing) the
	// pipe closes and we go too, so no server outlives its test run.
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// sumdbOut serialises JSON lines from concurrent handlers onto stdout.
type sumdbOut struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *sumdbOut) write(v interface{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.enc.Encode(v)
}

// sumdbSums answers the test server's gosum callback from the tree. Hashes
// are taken when the server starts, like a real checksum database that
// records a version once and never changes its answer: a zip tampered with
// afterwards is caught. Versions added to the tree later are hashed on their
// first lookup.
type sumdbSums struct {
	dir  string
	mu   sync.Mutex
	sums map[module.Version]*treeSum
}

func sumdbNewSums(dir string) (*sumdbSums, error) {
	sums, err := treeSums(dir)
	if err != nil {
		return nil, err
	}
	return &sumdbSums{dir: dir, sums: sums}, nil
}

func (s *sumdbSums) gosum(path, vers string) ([]byte, error) {
	key := module.Version{Path: path, Version: vers}
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.sums[key]
	if sum == nil || sum.zipH1 == "" || sum.modH1 == "" {
		fresh, err := treeSums(s.dir)
		if err != nil {
			return nil, err
		}
		if sum = fresh[key]; sum != nil && sum.zipH1 != "" && sum.modH1 != "" {
			s.sums[key] = sum
		}
	}
	if sum == nil || sum.zipH1 == "" || sum.modH1 == "" {
		// sumdb.Server maps os.IsNotExist errors to 404; os.IsNotExist does
		// not unwrap %w, so the error must be a *fs.PathError.
		return nil, &fs.PathError{Op: "lookup", Path: key.String(), Err: fs.ErrNotExist}
	}
	return []byte(strings.Join(sum.lines(), "\n") + "\n"), nil
}
