package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// Module zip commands: build zips the way the go command does (x/mod/zip),
// hash them like go.sum does (dirhash) and report whether Go accepts a zip.
func init() {
	register("create-zip", "<dir> <modpath> <version> <out.zip>   (zip.CreateFromDir)", func(args []string) error {
		if len(args) != 4 {
			return fmt.Errorf("want 4 arguments, got %d", len(args))
		}
		return writeZip(args[3], func(w io.Writer) error {
			return modzip.CreateFromDir(w, module.Version{Path: args[1], Version: args[2]}, args[0])
		})
	})

	register("create-zip-files", "<modpath> <version> <out.zip> <name=srcfile>...   (zip.Create; name may be any string)", func(args []string) error {
		if len(args) < 3 {
			return fmt.Errorf("want at least 3 arguments, got %d", len(args))
		}
		var files []modzip.File
		for _, a := range args[3:] {
			i := strings.Index(a, "=")
			if i < 0 {
				return fmt.Errorf("argument %q is not name=srcfile", a)
			}
			files = append(files, namedFile{name: a[:i], src: a[i+1:]})
		}
		return writeZip(args[2], func(w io.Writer) error {
			return modzip.Create(w, module.Version{Path: args[0], Version: args[1]}, files)
		})
	})

	register("hash-zip", "<zip>   (dirhash.HashZip: the go.sum h1 of a module zip)", func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want 1 argument, got %d", len(args))
		}
		h, err := dirhash.HashZip(args[0], dirhash.Hash1)
		if err != nil {
			return err
		}
		fmt.Println(h)
		return nil
	})

	register("hash-mod", "<file>   (h1 of a go.mod as modfetch computes the /go.mod go.sum line)", func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want 1 argument, got %d", len(args))
		}
		h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(args[0]) })
		if err != nil {
			return err
		}
		fmt.Println(h)
		return nil
	})

	// check-zip never fails on a bad zip: it prints what each x/mod step said.
	// valid means the go command could use it: CheckZip, Unzip and HashZip
	// all succeed.
	register("check-zip", "<modpath> <version> <zip>   -> JSON {valid, checkErr, unzipErr, hashErr, hash}", func(args []string) error {
		if len(args) != 3 {
			return fmt.Errorf("want 3 arguments, got %d", len(args))
		}
		m := module.Version{Path: args[0], Version: args[1]}
		out := map[string]interface{}{}
		if _, err := modzip.CheckZip(m, args[2]); err != nil {
			out["checkErr"] = err.Error()
		}
		tmp, err := ioutil.TempDir("", "gotool-unzip-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := modzip.Unzip(filepath.Join(tmp, "m"), m, args[2]); err != nil {
			out["unzipErr"] = err.Error()
		}
		if h, err := dirhash.HashZip(args[2], dirhash.Hash1); err != nil {
			out["hashErr"] = err.Error()
		} else {
			out["hash"] = h
		}
		out["valid"] = out["checkErr"] == nil && out["unzipErr"] == nil && out["hashErr"] == nil
		return json.NewEncoder(os.Stdout).Encode(out)
	})

	register("check-dir", "<dir>   -> JSON {valid: [path], omitted: [{path, err}], invalid: [{path, err}]} (zip.CheckDir, paths relative to dir)", func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want 1 argument, got %d", len(args))
		}
		cf, _ := modzip.CheckDir(args[0]) // the verdict is in cf
		rel := func(p string) string {
			r, err := filepath.Rel(args[0], p)
			if err != nil {
				return p
			}
			return filepath.ToSlash(r)
		}
		type fileErr struct {
			Path string `json:"path"`
			Err  string `json:"err"`
		}
		out := struct {
			Valid     []string  `json:"valid"`
			Omitted   []fileErr `json:"omitted"`
			Invalid   []fileErr `json:"invalid"`
			SizeError string    `json:"sizeError,omitempty"`
		}{Valid: []string{}, Omitted: []fileErr{}, Invalid: []fileErr{}}
		for _, p := range cf.Valid {
			out.Valid = append(out.Valid, rel(p))
		}
		for _, e := range cf.Omitted {
			out.Omitted = append(out.Omitted, fileErr{rel(e.Path), e.Err.Error()})
		}
		for _, e := range cf.Invalid {
			out.Invalid = append(out.Invalid, fileErr{rel(e.Path), e.Err.Error()})
		}
		if cf.SizeError != nil {
			out.SizeError = cf.SizeError.Error()
		}
		return json.NewEncoder(os.Stdout).Encode(out)
	})
}

// writeZip creates out and removes it again if create fails.
func writeZip(out string, create func(io.Writer) error) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := create(f); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	return f.Close()
}

// namedFile is a zip.File whose zip path is chosen freely, so tests can ask
// zip.Create about names that cannot exist on this file system.
type namedFile struct{ name, src string }

func (f namedFile) Path() string                 { return f.name }
func (f namedFile) Lstat() (os.FileInfo, error)  { return os.Lstat(f.src) }
func (f namedFile) Open() (io.ReadCloser, error) { return os.Open(f.src) }
