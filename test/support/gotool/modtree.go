package main

// build-tree and gosum-lines: a GOPROXY-layout directory built from a JSON
// spec, with the checksums the go command itself would compute. The e2e
// upstream server serves this directory file by file, so everything a test
// later downloads through ModGate was produced here by golang.org/x/mod.
//
// Identifiers in this file start with "tree" because package main is shared
// with the other helper commands.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// treeSpec is one module version of the input spec (see module-tree.ts).
type treeSpec struct {
	Path    string            `json:"path"`
	Version string            `json:"version"`
	Time    string            `json:"time,omitempty"`
	Files   map[string]string `json:"files"`
	NoGoMod bool              `json:"noGoMod,omitempty"`
}

// treeVersion is one module version of the output, with its go.sum hashes.
type treeVersion struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	ZipH1   string `json:"zipH1"`
	ModH1   string `json:"modH1"`
	ZipFile string `json:"zipFile"`
	ModFile string `json:"modFile"`
}

func init() {
	register("build-tree", "<spec.json> <outdir> -> JSON [{path, version, zipH1, modH1, zipFile, modFile}]", func(args []string) error {
		if len(args) != 2 {
			return fmt.Errorf("want <spec.json> <outdir>")
		}
		data, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		var specs []treeSpec
		if err := json.Unmarshal(data, &specs); err != nil {
			return fmt.Errorf("parse spec: %v", err)
		}
		outDir, err := filepath.Abs(args[1])
		if err != nil {
			return err
		}
		out := make([]treeVersion, 0, len(specs))
		for _, s := range specs {
			v, err := treeWriteVersion(outDir, s)
			if err != nil {
				return fmt.Errorf("%s@%s: %v", s.Path, s.Version, err)
			}
			out = append(out, v)
		}
		if err := treeWriteLists(outDir, specs); err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	})

	register("gosum-lines", "<outdir> -> go.sum lines for every .zip and .mod in the tree", func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want <outdir>")
		}
		sums, err := treeSums(args[0])
		if err != nil {
			return err
		}
		for _, l := range treeGoSumLines(sums) {
			fmt.Println(l)
		}
		return nil
	})
}

// treeModBytes returns what the .mod endpoint serves: the module's go.mod, or
// for a module without one the synthetic file the go command itself uses
// (modfetch/coderepo.go: "module " + modfile.AutoQuote(path) + "\n").
func treeModBytes(s treeSpec) ([]byte, error) {
	gomod, has := s.Files["go.mod"]
	switch {
	case s.NoGoMod && has:
		return nil, fmt.Errorf("noGoMod is set but files contain go.mod")
	case s.NoGoMod:
		return []byte("module " + modfile.AutoQuote(s.Path) + "\n"), nil
	case strings.HasSuffix(s.Version, "+incompatible"):
		// The go command rejects +incompatible versions that have a go.mod.
		return nil, fmt.Errorf("+incompatible version needs noGoMod")
	case !has:
		// Convenience default so specs only spell out go.mod when it matters.
		gomod = "module " + modfile.AutoQuote(s.Path) + "\n\ngo 1.19\n"
		s.Files["go.mod"] = gomod
	}
	f, err := modfile.ParseLax("go.mod", []byte(gomod), nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil || f.Module.Mod.Path != s.Path {
		return nil, fmt.Errorf("go.mod does not declare module %s", s.Path)
	}
	return []byte(gomod), nil
}

func treeWriteVersion(outDir string, s treeSpec) (treeVersion, error) {
	if err := module.Check(s.Path, s.Version); err != nil {
		return treeVersion{}, err
	}
	if module.CanonicalVersion(s.Version) != s.Version {
		return treeVersion{}, fmt.Errorf("version is not canonical")
	}
	if s.Files == nil {
		s.Files = map[string]string{}
	}
	mod, err := treeModBytes(s)
	if err != nil {
		return treeVersion{}, err
	}
	vdir, err := treeVersionDir(outDir, s.Path)
	if err != nil {
		return treeVersion{}, err
	}
	base, err := module.EscapeVersion(s.Version)
	if err != nil {
		return treeVersion{}, err
	}
	base = filepath.Join(vdir, base)

	zipFile := base + ".zip"
	if err := treeWriteZip(zipFile, module.Version{Path: s.Path, Version: s.Version}, s.Files); err != nil {
		return treeVersion{}, err
	}
	if err := os.WriteFile(base+".mod", mod, 0o644); err != nil {
		return treeVersion{}, err
	}
	info, err := treeInfo(s)
	if err != nil {
		return treeVersion{}, err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return treeVersion{}, err
	}

	zipH1, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		return treeVersion{}, err
	}
	return treeVersion{Path: s.Path, Version: s.Version, ZipH1: zipH1, ModH1: treeModHash(mod), ZipFile: zipFile, ModFile: base + ".mod"}, nil
}

// treeVersionDir returns (and creates) <outdir>/<escaped path>/@v.
func treeVersionDir(outDir, path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(outDir, filepath.FromSlash(esc), "@v")
	return dir, os.MkdirAll(dir, 0o755)
}

func treeInfo(s treeSpec) ([]byte, error) {
	t := time.Date(2023, 1, 2, 15, 4, 5, 0, time.UTC)
	if s.Time != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, s.Time); err != nil {
			return nil, fmt.Errorf("time: %v", err)
		}
	}
	return json.Marshal(struct {
		Version string
		Time    time.Time
	}{s.Version, t.UTC()})
}

// treeWriteZip lays the files out in a temporary directory and zips it with
// CreateFromDir, so the zip is what x/mod makes of a checkout (VCS dirs,
// vendored packages and nested modules dropped, paths checked).
func treeWriteZip(zipFile string, m module.Version, files map[string]string) error {
	tmp, err := os.MkdirTemp("", "gotool-tree-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for rel, content := range files {
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, m, tmp); err != nil {
		return err
	}
	return os.WriteFile(zipFile, buf.Bytes(), 0o644)
}

// treeModHash is the "/go.mod" go.sum hash: h1 over one file named go.mod
// (modfetch.goModSum).
func treeModHash(mod []byte) string {
	h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(mod)), nil
	})
	if err != nil {
		panic(err) // cannot fail: the reader is in memory
	}
	return h
}

// treeWriteLists merges the new versions into each module's @v/list, so a
// tree can be extended by a second build-tree run (a "new release").
func treeWriteLists(outDir string, specs []treeSpec) error {
	byPath := map[string][]string{}
	for _, s := range specs {
		byPath[s.Path] = append(byPath[s.Path], s.Version)
	}
	for path, added := range byPath {
		vdir, err := treeVersionDir(outDir, path)
		if err != nil {
			return err
		}
		listFile := filepath.Join(vdir, "list")
		seen := map[string]bool{}
		var all []string
		old, _ := os.ReadFile(listFile)
		for _, v := range append(strings.Fields(string(old)), added...) {
			if !seen[v] {
				seen[v] = true
				all = append(all, v)
			}
		}
		semver.Sort(all)
		if err := os.WriteFile(listFile, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// treeSum holds the go.sum hashes of one module version found in a tree.
type treeSum struct {
	path, version string
	zipH1, modH1  string // empty when the file is missing
}

// treeSums hashes every <escaped path>/@v/<escaped version>.{zip,mod} under
// outDir, as currently on disk.
func treeSums(outDir string) (map[module.Version]*treeSum, error) {
	sums := map[module.Version]*treeSum{}
	err := filepath.Walk(outDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		ext := filepath.Ext(p)
		if info.IsDir() || filepath.Base(filepath.Dir(p)) != "@v" || (ext != ".zip" && ext != ".mod") {
			return nil
		}
		escPath, err := filepath.Rel(outDir, filepath.Dir(filepath.Dir(p)))
		if err != nil {
			return err
		}
		path, err := module.UnescapePath(filepath.ToSlash(escPath))
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		vers, err := module.UnescapeVersion(strings.TrimSuffix(filepath.Base(p), ext))
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		key := module.Version{Path: path, Version: vers}
		s := sums[key]
		if s == nil {
			s = &treeSum{path: path, version: vers}
			sums[key] = s
		}
		if ext == ".zip" {
			s.zipH1, err = dirhash.HashZip(p, dirhash.Hash1)
			return err
		}
		mod, err := os.ReadFile(p)
		s.modH1 = treeModHash(mod)
		return err
	})
	return sums, err
}

// lines formats one version's hashes as go.sum lines (zip line first).
func (s *treeSum) lines() []string {
	var out []string
	if s.zipH1 != "" {
		out = append(out, fmt.Sprintf("%s %s %s", s.path, s.version, s.zipH1))
	}
	if s.modH1 != "" {
		out = append(out, fmt.Sprintf("%s %s/go.mod %s", s.path, s.version, s.modH1))
	}
	return out
}

// treeGoSumLines returns every line in go.sum order (module.Sort, as
// modfetch.WriteGoSum uses).
func treeGoSumLines(sums map[module.Version]*treeSum) []string {
	keys := make([]module.Version, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	module.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, sums[k].lines()...)
	}
	return out
}
