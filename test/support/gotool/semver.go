package main

import (
	"bufio"
	"encoding/json"
	"os"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Commands answering with golang.org/x/mod/semver and module/pseudo.go.

func init() {
	register("semver-info", "< versions -> JSON lines {v, valid, canonical, moduleCanonical, major, majorMinor, prerelease, build}", func(args []string) error {
		return eachLine(func(v string) interface{} {
			return map[string]interface{}{
				"v":               v,
				"valid":           semver.IsValid(v),
				"canonical":       semver.Canonical(v),
				"moduleCanonical": module.CanonicalVersion(v),
				"major":           semver.Major(v),
				"majorMinor":      semver.MajorMinor(v),
				"prerelease":      semver.Prerelease(v),
				"build":           semver.Build(v),
			}
		})
	})

	// semver-compare reads the versions, one per line, and prints the full
	// matrix: cmp[i][j] = semver.Compare(v[i], v[j]), max[i][j] = semver.Max,
	// plus the semver.Sort order. One JSON document, to keep n² results compact.
	register("semver-compare", "< versions -> JSON {cmp: [][]int, max: [][]string, sorted: []string}", func(args []string) error {
		var vs []string
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			vs = append(vs, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return err
		}
		cmp := make([][]int, len(vs))
		max := make([][]string, len(vs))
		for i, a := range vs {
			cmp[i] = make([]int, len(vs))
			max[i] = make([]string, len(vs))
			for j, b := range vs {
				cmp[i][j] = semver.Compare(a, b)
				max[i][j] = semver.Max(a, b)
			}
		}
		sorted := append([]string(nil), vs...)
		semver.Sort(sorted)
		return json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"cmp": cmp, "max": max, "sorted": sorted})
	})

	register("pseudo", "< versions -> JSON lines {v, is, time (RFC 3339 nanos UTC), unixMilli, timeErr, rev, revErr, base, baseErr}", func(args []string) error {
		return eachLine(func(v string) interface{} {
			out := map[string]interface{}{"v": v, "is": module.IsPseudoVersion(v)}
			if t, err := module.PseudoVersionTime(v); err != nil {
				out["timeErr"] = err.Error()
			} else {
				out["unixMilli"] = t.UnixMilli()
				out["time"] = t.UTC().Format("2006-01-02T15:04:05Z07:00")
			}
			rev, err := module.PseudoVersionRev(v)
			out["rev"], out["revErr"] = rev, errText(err)
			base, err := module.PseudoVersionBase(v)
			out["base"], out["baseErr"] = base, errText(err)
			return out
		})
	})
}
