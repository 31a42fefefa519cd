package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Commands about paths and their escaped forms. Each reads one input per
// line on stdin and prints one JSON object per line, with the x/mod result
// and the error text ("" when there is none).

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// eachLine runs f on every stdin line and writes f's result as a JSON line.
func eachLine(f func(line string) interface{}) error {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	enc := json.NewEncoder(os.Stdout)
	for sc.Scan() {
		if err := enc.Encode(f(sc.Text())); err != nil {
			return err
		}
	}
	return sc.Err()
}

func init() {
	// escape reads module paths (one per line) on stdin and prints, per line, a
	// JSON object with the escaped form and CheckPath's verdict.
	register("escape-paths", "< paths (one per line) -> JSON lines {path, escaped, escapeErr, checkErr}", func(args []string) error {
		sc := bufio.NewScanner(os.Stdin)
		enc := json.NewEncoder(os.Stdout)
		for sc.Scan() {
			p := sc.Text()
			out := map[string]string{"path": p}
			if e, err := module.EscapePath(p); err != nil {
				out["escapeErr"] = err.Error()
			} else {
				out["escaped"] = e
			}
			if err := module.CheckPath(p); err != nil {
				out["checkErr"] = err.Error()
			}
			if err := enc.Encode(out); err != nil {
				return err
			}
		}
		return sc.Err()
	})

	register("check-paths", "< paths -> JSON lines {path, module, import, file (errors), prefix, pathMajor, ok (SplitPathVersion)}", func(args []string) error {
		return eachLine(func(p string) interface{} {
			prefix, pathMajor, ok := module.SplitPathVersion(p)
			return map[string]interface{}{
				"path":      p,
				"module":    errText(module.CheckPath(p)),
				"import":    errText(module.CheckImportPath(p)),
				"file":      errText(module.CheckFilePath(p)),
				"prefix":    prefix,
				"pathMajor": pathMajor,
				"ok":        ok,
			}
		})
	})

	register("unescape-paths", "< escaped paths -> JSON lines {escaped, path, err}", func(args []string) error {
		return eachLine(func(e string) interface{} {
			p, err := module.UnescapePath(e)
			return map[string]string{"escaped": e, "path": p, "err": errText(err)}
		})
	})

	register("escape-versions", "< versions -> JSON lines {version, escaped, escapeErr}", func(args []string) error {
		return eachLine(func(v string) interface{} {
			e, err := module.EscapeVersion(v)
			return map[string]string{"version": v, "escaped": e, "escapeErr": errText(err)}
		})
	})

	register("unescape-versions", "< escaped versions -> JSON lines {escaped, version, err}", func(args []string) error {
		return eachLine(func(e string) interface{} {
			v, err := module.UnescapeVersion(e)
			return map[string]string{"escaped": e, "version": v, "err": errText(err)}
		})
	})

	register("check-module", "< 'path version' lines -> JSON lines {path, version, check, strict, pathMajor, match}", func(args []string) error {
		return eachLine(func(line string) interface{} {
			p, v := splitPair(line)
			_, pathMajor, _ := module.SplitPathVersion(p)
			return map[string]interface{}{
				"path":    p,
				"version": v,
				"check":   errText(module.Check(p, v)),
				"strict":  errText(checkServable(p, v)),
				// CheckPathMajor on its own, against the path's own suffix.
				"pathMajor": errText(module.CheckPathMajor(v, pathMajor)),
				"match":     module.MatchPathMajor(v, pathMajor),
			}
		})
	})

	register("fold-classes", "-> JSON {r: orbit minimum} for every rune with a case-fold partner, and letters: [[lo,hi],...]", func(args []string) error {
		// zip's strToFold maps a rune to the smallest member of its
		// unicode.SimpleFold orbit; ModGate's foldPath must induce the same
		// classes. Letters are listed so the test knows which runes exist
		// in this Go's Unicode version.
		orbit := map[rune]rune{}
		var letters [][2]rune
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if unicode.IsLetter(r) {
				if n := len(letters); n > 0 && letters[n-1][1] == r-1 {
					letters[n-1][1] = r
				} else {
					letters = append(letters, [2]rune{r, r})
				}
			}
			if unicode.SimpleFold(r) == r {
				continue
			}
			m := r
			for x := unicode.SimpleFold(r); x != r; x = unicode.SimpleFold(x) {
				if x < m {
					m = x
				}
			}
			orbit[r] = m
		}
		out, err := json.Marshal(map[string]interface{}{"orbit": orbit, "letters": letters, "unicode": unicode.Version})
		if err != nil {
			return err
		}
		_, err = io.WriteString(os.Stdout, string(out)+"\n")
		return err
	})
}

// splitPair splits "a b" at the first space; b may be empty.
func splitPair(line string) (string, string) {
	for i := 0; i < len(line); i++ {
		if line[i] == ' ' {
			return line[:i], line[i+1:]
		}
	}
	return line, ""
}

// checkServable is what a proxy may list and serve, composed from x/mod the
// way cmd/go/internal/modfetch/coderepo.go (checkCanonical) judges a
// version, minus the go.mod lookup: module.Check, a canonical version, and
// "+incompatible" only on major 2+ of a path without a major suffix.
func checkServable(path, v string) error {
	if err := module.Check(path, v); err != nil {
		return err
	}
	invalidf := func(format string, args ...interface{}) error {
		return &module.ModuleError{Path: path, Err: &module.InvalidVersionError{Version: v, Err: fmt.Errorf(format, args...)}}
	}
	if cv := module.CanonicalVersion(v); cv != v {
		return invalidf("not a canonical version (want %q)", cv)
	}
	_, pathMajor, _ := module.SplitPathVersion(path)
	base := strings.TrimSuffix(v, "+incompatible")
	if !module.MatchPathMajor(base, pathMajor) {
		if pathMajor != "" {
			return invalidf("module path includes a major version suffix, so major version must match")
		}
		if !strings.HasSuffix(v, "+incompatible") {
			return module.CheckPathMajor(base, pathMajor)
		}
	} else if strings.HasSuffix(v, "+incompatible") {
		return invalidf("+incompatible suffix not allowed: major version %s is compatible", semver.Major(v))
	}
	return nil
}
