package main

import (
	"bufio"
	"encoding/json"
	"os"

	"golang.org/x/mod/module"
)

// escape reads module paths (one per line) on stdin and prints, per line, a
// JSON object with the escaped form and CheckPath's verdict.
func init() {
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
}
